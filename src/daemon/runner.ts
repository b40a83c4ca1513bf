import { explainGroup, explainUser } from '../cli/explain.js';
import type { App } from '../main.js';
import { approveRun, planForExplain, runOnce, type RunOptions, type RunOutcome } from '../reconcile/run.js';

/** what the daemon has run: its runs, approvals and explains */
export interface Runner {
  run(opts: RunOptions): Promise<RunOutcome>;
  approve(heldIn: number): Promise<RunOutcome & { released: number; stale: number }>;
  /** `convsync explain --user/--group` as a dry run; undefined when nothing matches */
  explain(kind: 'user' | 'group', query: string): Promise<string | undefined>;
  /** the backend's user id form (Wire: with its domain), known once it answered */
  backendId(): string;
}

/** runs on an app's own thread */
export function runnerOf(app: App): Runner {
  return {
    run: (opts) => runOnce(app, opts),
    approve: (heldIn) => approveRun(app, heldIn),
    async explain(kind, query) {
      const traced = await planForExplain(app);
      const input = {
        ...traced,
        identityFrom: app.config.identity.from,
        mappings: app.config.mappings,
        parseUserId: (v: string) => app.backend.parseUserId(v),
      };
      return kind === 'user' ? explainUser(input, query) : explainGroup(input, query);
    },
    backendId: () => app.backend.idForm?.() ?? app.backend.id,
  };
}
