import type { RunOutcome } from '../reconcile/run.js';

export interface DaemonStatus {
  running: boolean;
  lastRunAt?: string;
  lastResult?: string;
  lastExitCode?: number;
  /** false after the backend refused the daemon's credentials */
  backendOk: boolean;
  /** set when the writer lease was lost: the daemon no longer writes */
  leaseLost?: boolean;
  lastError?: string;
  /** the failing side and its own label ("wire 403 invalid-credentials"), never the message */
  lastErrorLabel?: string;
}

/** what the routes ask of the daemon */
export interface DaemonControl {
  readonly status: DaemonStatus;
  request(scope: 'all', reason: string): Promise<RunOutcome | undefined>;
  approve(heldIn: number): Promise<RunOutcome & { released: number; stale: number }>;
  syncAllowingRemovals(): Promise<RunOutcome>;
}
