import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import { AuthError, DaemonStoppingError, describeError, StalePlanError, SyncError } from '../errors.js';
import type { App } from '../main.js';
import type { Metrics } from '../metrics.js';
import type { DaemonStatus } from '../server/http.js';
import type { StatusPageControl } from '../server/ui/control.js';
import { LiveTracker } from '../server/ui/live.js';
import type { RunOutcome } from '../reconcile/run.js';
import type { Runner } from './runner.js';
import { recordRunMetrics } from './run-metrics.js';

export interface DaemonOptions {
  schedule: string;
  debounceMs: number;
}

/** what a run is asked to cover: everything, or the conversations fed by some groups */
type Scope = 'all' | Set<string>;

/**
 * The long-running mode: `runOnce()` on the cron schedule (a tick that finds a full run still going
 * is skipped and counted; one that finds a run after a push runs after it), on demand (POST /sync),
 * and shortly after pushed changes, for the groups they touched only. One run at a time; requests
 * that arrive meanwhile are merged into the next.
 */
export class Daemon implements StatusPageControl {
  readonly status: DaemonStatus = { running: false, backendOk: true };
  private task: ScheduledTask | undefined;
  private current: Promise<RunOutcome | undefined> | undefined;
  /** the run in flight reads and plans everything (not a run after a push, nor an operator's) */
  private currentIsFull = false;
  private pending: Scope | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly log: Logger;
  /** the run in flight, for the status page */
  private readonly inFlight = new LiveTracker();
  /** what asked for the pending run (merged requests name all of them) */
  private readonly reasons = new Set<string>();
  private explaining: Promise<unknown> = Promise.resolve();
  /** what asked for the run in flight, and the newest run before it */
  private tracking: { before: number | undefined; trigger: string; runId?: number } | undefined;

  constructor(
    private readonly app: App,
    private readonly metrics: Metrics,
    private readonly opts: DaemonOptions,
    /** where runs happen (a thread of their own: run-thread.ts); their apply's progress goes to `progress` */
    private readonly runner: Runner,
  ) {
    this.log = app.logger.child({ component: 'daemon' });
    // the schedule's first start formats a date in a time zone, which loads ICU's data (25 ms here):
    // loaded now, before the daemon listens, it holds up no request
    new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', hour: 'numeric' }).format(0);
  }

  /** the run in flight is recorded (on the run thread): it says what asked for it, and the status page names it */
  started(runId: number): void {
    if (this.tracking) {
      this.tracking.runId = runId;
      this.recordTrigger(this.tracking.before, this.tracking.trigger);
    }
    this.inFlight.named(runId);
  }

  /** a step of the apply in flight, for the status page */
  progress(figures: Parameters<LiveTracker['progress']>[0]): void {
    this.inFlight.progress(figures);
  }

  start(): void {
    this.task = cron.schedule(
      this.opts.schedule,
      async () => {
        if (this.stopping) return;
        // a run after a push (or an operator's) does not stand for a full one: the schedule's follows it
        if (this.current && !this.currentIsFull) return void this.request('all', 'schedule');
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
    // nothing is queued once stopping: the caller (POST /sync, the page's Sync now) must not say it is
    if (this.stopping) throw new DaemonStoppingError();
    if (this.current) {
      this.pending = merge(this.pending, scope);
      this.reasons.add(reason);
      return this.current.then(() => this.drain(reason));
    }
    return this.run(scope, reason);
  }

  /**
   * Pushed changes: collected for `debounceMs` after the first one, then reconciled together (the
   * window is not extended by later changes, so a steady stream of pushes still lands within about
   * `debounceMs` plus the run).
   */
  changed(groups: Iterable<string>, reason: 'push' | 'saml' = 'push'): void {
    if (this.stopping) return;
    this.pending = merge(this.pending, new Set(groups));
    this.reasons.add(reason);
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
    const why = this.reasons.size > 0 ? [...this.reasons].sort().join('+') : reason;
    this.reasons.clear();
    return this.run(scope, why);
  }

  private run(scope: Scope, reason: string): Promise<RunOutcome | undefined> {
    const scoped = scope === 'all' ? undefined : scope;
    this.log.info({ reason, groups: scoped?.size }, 'run starting');
    const before = this.lastRunId();
    const outcome = this.runner.run({ mode: 'sync', scope: scoped });
    this.track(outcome, reason, before);
    this.currentIsFull = scoped === undefined;
    return this.current!;
  }

  /** `convsync approve RUN` while the daemon holds the writer lease: the same semantics, run here */
  approve(heldIn: number) {
    return this.exclusive(`approve ${heldIn}`, 'approve', () => this.runner.approve(heldIn));
  }

  /** `convsync sync --allow-removals` while the daemon holds the writer lease */
  syncAllowingRemovals(): Promise<RunOutcome> {
    return this.exclusive('sync --allow-removals', 'allow-removals', () => this.runner.run({ mode: 'sync', allowRemovals: true }));
  }

  /**
   * An operator's run (`approve RUN`, a sync that may remove what guards held back): it waits for
   * the run in flight, runs alone, and its failure reaches the caller.
   */
  private async exclusive<T extends RunOutcome>(reason: string, trigger: string, fn: () => Promise<T>): Promise<T> {
    while (this.current && !this.stopping) await this.current;
    if (this.stopping) throw new DaemonStoppingError();
    this.log.info({ reason }, 'run starting');
    const before = this.lastRunId();
    const outcome = fn();
    this.track(outcome, trigger, before);
    this.currentIsFull = false;
    return outcome;
  }

  /** one run at a time: `current` is set until its outcome is recorded */
  private track(outcome: Promise<RunOutcome>, trigger: string, before: number | undefined): void {
    const started = process.hrtime.bigint();
    this.tracking = { before, trigger };
    this.status.running = true;
    // the run is recorded on the run thread later: `started` names it then
    this.inFlight.begin(trigger);
    this.current = outcome
      .then((o) => {
        this.record(o);
        return o;
      })
      .catch((e: unknown) => {
        if (!(e instanceof StalePlanError)) this.recordError(e);
        this.interrupted(e);
        return undefined;
      })
      .finally(() => {
        this.metrics.runDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
        this.recordTrigger(before, trigger);
        this.inFlight.end();
        this.tracking = undefined;
        this.status.running = false;
        this.current = undefined;
        // what arrived meanwhile: pushed changes wait for their debounce, the rest runs now
        if (this.pending && !this.debounce) void this.drain('queued');
      });
  }

  /** the newest run before a call starts one; undefined when the store cannot say (nothing is recorded then) */
  private lastRunId(): number | undefined {
    try {
      return this.app.store.views.lastRunId();
    } catch {
      return undefined;
    }
  }

  /** the runs a call started (those after `before`) say what asked for them */
  private recordTrigger(before: number | undefined, trigger: string): void {
    if (before === undefined) return;
    try {
      this.app.store.runs.recordTrigger(before, trigger);
    } catch (e) {
      // the store is closed once the lease is lost: the run's outcome stands without it
      this.log.warn({ err: describeError(e) }, 'could not record what asked for the run');
    }
  }

  live() {
    return this.inFlight.get();
  }

  watch(listener: Parameters<LiveTracker['watch']>[0]) {
    return this.inFlight.watch(listener);
  }

  nextRunAt(): Date | undefined {
    return this.task?.getNextRun() ?? undefined;
  }

  backendId(): string {
    return this.runner.backendId();
  }

  /**
   * `convsync explain` for the status page: a dry run (nothing reaches the backend) beside any run
   * in flight, as the CLI's explain already runs beside the daemon: its source reads store only
   * what a run's own read would, and a run plans from what it read itself. One at a time.
   */
  explain(kind: 'user' | 'group', query: string): Promise<string | undefined> {
    const next = this.explaining.catch(() => undefined).then(() => this.runner.explain(kind, query));
    this.explaining = next;
    return next;
  }

  private record(o: RunOutcome): void {
    const result = o.exitCode === 0 ? 'ok' : o.exitCode === 3 ? 'quarantined' : 'failed';
    recordRunMetrics(this.metrics, this.app, o, result);
    Object.assign(this.status, { lastRunAt: new Date().toISOString(), lastResult: result, lastExitCode: o.exitCode, backendOk: !o.result?.authFailed });
    delete this.status.lastError;
    delete this.status.lastErrorLabel;
    this.log.info({ runId: o.runId, exitCode: o.exitCode, ...o.plan.summary }, 'run finished');
  }

  /** a run whose thread ended under it never records its end: it is recorded here, with why */
  private interrupted(e: unknown): void {
    const runId = this.tracking?.runId;
    if (runId === undefined) return;
    try {
      this.app.store.runs.interrupted(describeError(e), runId);
    } catch (err) {
      this.log.warn({ err: describeError(err), runId }, 'could not record the end of the run');
    }
  }

  private recordError(e: unknown): void {
    this.metrics.runs.inc({ result: 'error' });
    this.metrics.consecutiveFailures.inc();
    Object.assign(this.status, { lastRunAt: new Date().toISOString(), lastResult: 'error', lastExitCode: 1, lastError: describeError(e) });
    if (e instanceof SyncError) this.status.lastErrorLabel = [e.origin, e.status, e.label].filter((p) => p !== undefined && p !== '').join(' ');
    else delete this.status.lastErrorLabel;
    // a source that refused its own credentials (origin `scim:corp`, `ldap:…`) says nothing of the backend's
    if (e instanceof AuthError && e.origin === this.app.backend.id) this.status.backendOk = false;
    this.log.error({ err: describeError(e) }, 'run failed');
  }
}

function merge(a: Scope | undefined, b: Scope): Scope {
  if (a === 'all' || b === 'all') return 'all';
  return new Set([...(a ?? []), ...b]);
}
