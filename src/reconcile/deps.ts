import type { Logger } from 'pino';
import type { Backend } from '../backends/types.js';
import type { Config } from '../config/schema.js';
import type { Source } from '../sources/types.js';
import type { Store } from '../store/store.js';
import type { ProgressFigures } from './progress.js';
import { Reconciler } from './reconciler.js';

/** what a run needs: everything main.ts wires from the config */
export interface RunDeps {
  config: Config;
  store: Store;
  sources: Source[];
  backend: Backend;
  logger: Logger;
  tty?: NodeJS.WriteStream;
  signal?: AbortSignal;
  /** told of each step of an apply (the daemon streams it to its status page) */
  onProgress?: (figures: ProgressFigures) => void;
  /** told the id of a run (or approval) once it is recorded: the daemon names the run in flight on its status page */
  onRunStart?: (runId: number) => void;
}

export function reconcilerFor(deps: RunDeps, dryRun: boolean): Reconciler {
  const r = deps.config.reconcile;
  return new Reconciler(deps.store, deps.backend, {
    dryRun,
    ownerId: deps.config.ownerId,
    concurrency: r.concurrency,
    ratePerSecond: r.ratePerSecond,
    burst: r.burst,
    retry: { maxAttempts: r.maxAttempts, baseDelayMs: r.baseDelayMs, maxDelayMs: r.maxDelayMs, maxRetryAfterMs: r.maxRetryAfterMs },
    settleMs: r.lostAnswerSettleMs,
    logger: deps.logger,
    fence: () => deps.store.journal.fenceNow(),
    tty: deps.tty,
    signal: deps.signal,
    onProgress: deps.onProgress,
  });
}
