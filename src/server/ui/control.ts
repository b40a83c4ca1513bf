import type { ProgressFigures } from '../../reconcile/progress.js';
import type { DaemonControl } from '../http.js';

/** the run in flight, as the status page shows it live */
export interface LiveRun {
  /** set once the run is recorded */
  runId?: number;
  /** what asked for it: schedule, start, push, saml, api, page, approve, allow-removals (joined by + when merged) */
  trigger: string;
  startedAt: string;
  /** reading the sources and planning, or applying (with figures) */
  phase: 'planning' | 'applying';
  progress?: ProgressFigures;
}

/** what the status page asks of the daemon, beyond the routes' DaemonControl */
export interface StatusPageControl extends DaemonControl {
  /** the run in flight, if any */
  live(): LiveRun | undefined;
  /** told of every change of the run in flight (undefined: it ended); returns the unsubscribe */
  watch(listener: (live: LiveRun | undefined) => void): () => void;
  nextRunAt(): Date | undefined;
  /** the backend's user id form (Wire: with its domain), known once it answered */
  backendId(): string;
  /** `convsync explain --user/--group` computed by the daemon; undefined when nothing matches */
  explain(kind: 'user' | 'group', query: string): Promise<string | undefined>;
}
