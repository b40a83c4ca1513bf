import type { Logger } from 'pino';
import { describeError } from '../errors.js';
import type { WriteAheadLog } from '../store/write-ahead-log.js';

/** how long starting the log over may wait for readers, holding up the writers (pushes on the daemon's thread) */
const RESTART_WAIT_MS = 10;

/**
 * The run thread's copies of the store's log into the database: once no call is in flight (after
 * the last answer, and every `everyMs` while idle, for what pushes and lease renewals wrote), off
 * the path of the calls. A copy goes only as far as the oldest reader of the database lets it;
 * copies held back for `tellHeldBackAfterMs` (a backup, a shell holding a transaction) are told
 * once, with the log's size, since the log grows until that reader lets go. A log copied whole and
 * long enough is started over (`WriteAheadLog.restart`).
 */
export class LogCopier {
  private inFlight = 0;
  /** when copies began to stop short of the log's end, and whether that was told */
  private heldBack?: { since: number; told: boolean };
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly wal: Pick<WriteAheadLog, 'checkpoint' | 'restart' | 'bytes'>,
    private readonly logger: Logger,
    private readonly opts: { everyMs: number; tellHeldBackAfterMs: number; restartAtPages: number; now?: () => number },
  ) {
    this.timer = setInterval(() => this.copyIfIdle(), opts.everyMs).unref();
  }

  /** one call of the thread: the log is copied once it and any other in flight have ended */
  async around<T>(call: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await call();
    } finally {
      this.inFlight--;
      this.copyIfIdle();
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private copyIfIdle(): void {
    if (this.inFlight > 0) return;
    // nothing here may end the thread: a copy not made now is made by the next
    try {
      const copy = this.wal.checkpoint();
      // -1: not copied at all (another connection was copying, or no log): nothing to tell from it
      if (copy === undefined || copy.log < 0) return;
      this.track(copy);
      // copied whole and long enough to matter: the next commit starts the log over
      if (copy.copied >= copy.log && copy.log >= this.opts.restartAtPages) this.wal.restart(RESTART_WAIT_MS);
    } catch (e) {
      this.logger.warn({ err: describeError(e) }, 'the store could not copy its log into the database, or start it over; the next copy tries again');
    }
  }

  private track(copy: { log: number; copied: number }): void {
    const now = (this.opts.now ?? Date.now)();
    if (copy.copied >= copy.log) {
      if (this.heldBack?.told) this.logger.info('the store copied its log into the database again: the reader that held it back let go');
      this.heldBack = undefined;
      return;
    }
    this.heldBack ??= { since: now, told: false };
    if (this.heldBack.told || now - this.heldBack.since < this.opts.tellHeldBackAfterMs) return;
    this.heldBack.told = true;
    this.logger.warn(
      { logBytes: this.wal.bytes(), pagesNotCopied: copy.log - copy.copied, heldBackSeconds: Math.round((now - this.heldBack.since) / 1000) },
      "another connection's read of the store keeps part of its log from being copied into the database; the log grows until that reader (a backup, a shell holding a transaction) lets go",
    );
  }
}
