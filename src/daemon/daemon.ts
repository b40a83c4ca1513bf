import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import { AuthError, describeError } from '../errors.js';
import type { App } from '../main.js';
import type { Metrics } from '../metrics.js';
import { runOnce, type RunOutcome } from '../reconcile/run.js';

export interface DaemonOptions {
  schedule: string;
  debounceMs: number;
}

/** what a run is asked to cover: everything, or the conversations fed by some groups */
type Scope = 'all' | Set<string>;

export interface DaemonStatus {
  running: boolean;
  lastRunAt?: string;
  lastResult?: string;
  lastExitCode?: number;
  /** false after the backend refused the daemon's credentials */
  backendOk: boolean;
  lastError?: string;
}

/**
 * The long-running mode: `runOnce()` on the cron schedule (a tick that finds a run still going is
 * skipped and counted), on demand (POST /sync), and shortly after pushed changes, for the groups
 * they touched only. One run at a time; requests that arrive meanwhile are merged into the next.
 */
export class Daemon {
  readonly status: DaemonStatus = { running: false, backendOk: true };
  private task: ScheduledTask | undefined;
  private current: Promise<RunOutcome | undefined> | undefined;
  private pending: Scope | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly log: Logger;

  constructor(
    private readonly app: App,
    private readonly metrics: Metrics,
    private readonly opts: DaemonOptions,
  ) {
    this.log = app.logger.child({ component: 'daemon' });
  }

  start(): void {
    this.task = cron.schedule(
      this.opts.schedule,
      async () => {
        if (this.current) {
          this.metrics.runsSkipped.inc();
          this.log.info('scheduled run skipped: a run is still going');
          return;
        }
        await this.run('all', 'schedule');
      },
      { name: 'convsync', noOverlap: true },
    );
    this.task.on('execution:overlap', () => {
      this.metrics.runsSkipped.inc();
      this.log.info('scheduled run skipped: the previous one is still going');
    });
    this.request('all', 'start');
  }

  /** a full run now (or right after the current one) */
  request(scope: Scope, reason: string): Promise<RunOutcome | undefined> {
    if (this.stopping) return Promise.resolve(undefined);
    if (this.current) {
      this.pending = merge(this.pending, scope);
      return this.current.then(() => this.drain(reason));
    }
    return this.run(scope, reason);
  }

  /**
   * Pushed changes: collected for `debounceMs` after the first one, then reconciled together (the
   * window is not extended by later changes, so a steady stream of pushes still lands within about
   * `debounceMs` plus the run).
   */
  changed(groups: Iterable<string>): void {
    if (this.stopping) return;
    this.pending = merge(this.pending, new Set(groups));
    this.debounce ??= setTimeout(() => {
      this.debounce = undefined;
      if (!this.current) void this.drain('push');
    }, this.opts.debounceMs);
  }

  /** stop scheduling, let the run in flight finish (its call in flight is journaled), within `graceMs` */
  async stop(graceMs: number): Promise<boolean> {
    this.stopping = true;
    clearTimeout(this.debounce);
    await this.task?.destroy();
    if (!this.current) return true;
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      this.current.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
    ]);
    clearTimeout(timer);
    return finished;
  }

  private drain(reason: string): Promise<RunOutcome | undefined> {
    const scope = this.pending;
    if (!scope || this.stopping || this.current) return this.current ?? Promise.resolve(undefined);
    this.pending = undefined;
    return this.run(scope, reason);
  }

  private run(scope: Scope, reason: string): Promise<RunOutcome | undefined> {
    const started = process.hrtime.bigint();
    this.status.running = true;
    const scoped = scope === 'all' ? undefined : scope;
    this.log.info({ reason, groups: scoped?.size }, 'run starting');
    this.current = runOnce(this.app, { mode: 'sync', ...(scoped ? { scope: scoped } : {}) })
      .then((outcome) => {
        this.record(outcome);
        return outcome;
      })
      .catch((e: unknown) => {
        this.recordError(e);
        return undefined;
      })
      .finally(() => {
        this.metrics.runDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
        this.status.running = false;
        this.current = undefined;
        // what arrived meanwhile: pushed changes wait for their debounce, the rest runs now
        if (this.pending && !this.debounce) void this.drain('queued');
      });
    return this.current;
  }

  private record(o: RunOutcome): void {
    const result = o.exitCode === 0 ? 'ok' : o.exitCode === 3 ? 'quarantined' : 'failed';
    this.metrics.runs.inc({ result });
    for (const [op, n] of Object.entries(o.result?.doneByOp ?? {})) this.metrics.ops.inc({ op, result: 'done' }, n);
    for (const f of o.result?.failed ?? []) this.metrics.ops.inc({ op: f.op.op, result: 'failed' });
    const held = o.plan.blocked.filter((b) => b.kind === 'guard' && b.op.op === 'remove').reduce((n, b) => n + (b.op.op === 'remove' ? b.op.members.length : 0), 0);
    this.metrics.quarantined.set(o.plan.summary.quarantined ? 1 : 0);
    if (o.drift) this.metrics.driftMembers.set(o.drift.added + o.drift.left);
    this.metrics.heldRemovals.set(held);
    // from the store: a run after a push plans only the conversations it touches
    this.metrics.unmanageable.set(this.app.store.countUnmanageable());
    this.metrics.refusedUsers.set(this.app.store.users.refusedUsers(new Date(Date.now() - this.app.config.identity.cacheTtlHours * 3_600_000).toISOString()).size);
    if (result === 'failed') this.metrics.consecutiveFailures.inc();
    else {
      this.metrics.consecutiveFailures.set(0);
      this.metrics.lastSuccess.set(Date.now() / 1000);
    }
    Object.assign(this.status, { lastRunAt: new Date().toISOString(), lastResult: result, lastExitCode: o.exitCode, backendOk: !o.result?.authFailed });
    delete this.status.lastError;
    this.log.info({ runId: o.runId, exitCode: o.exitCode, ...o.plan.summary }, 'run finished');
  }

  private recordError(e: unknown): void {
    this.metrics.runs.inc({ result: 'error' });
    this.metrics.consecutiveFailures.inc();
    Object.assign(this.status, { lastRunAt: new Date().toISOString(), lastResult: 'error', lastExitCode: 1, lastError: describeError(e) });
    if (e instanceof AuthError) this.status.backendOk = false;
    this.log.error({ err: describeError(e) }, 'run failed');
  }
}

function merge(a: Scope | undefined, b: Scope): Scope {
  if (a === 'all' || b === 'all') return 'all';
  return new Set([...(a ?? []), ...b]);
}
