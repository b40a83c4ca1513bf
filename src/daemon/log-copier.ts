import type { Logger } from 'pino';
import { describeError } from '../errors.js';
import type { Store } from '../store/store.js';

/**
 * The run thread's copies of the store's log into the database: once no call is in flight (after
 * the last answer, and every `everyMs` while idle, for what pushes and lease renewals wrote), off
 * the path of the calls. A copy goes only as far as the oldest reader of the database lets it; one
 * held back that long (a backup or a shell with the database open in a transaction) is told once,
 * with the log's size, since the log grows until that reader lets go.
 */
export class LogCopier {
  private inFlight = 0;
  /** when copies began to stop short of the log's end, and whether that was told */
  private heldBack?: { since: number; told: boolean };
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly store: Pick<Store, 'checkpoint' | 'logBytes'>,
    private readonly logger: Logger,
    private readonly opts: { everyMs: number; tellHeldBackAfterMs: number; now?: () => number },
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
    let copy: ReturnType<Store['checkpoint']>;
    try {
      copy = this.store.checkpoint();
    } catch (e) {
      this.logger.warn({ err: describeError(e) }, 'the store could not copy its log into the database; the next commit past the limit does');
      return;
    }
    if (copy !== undefined) this.track(copy);
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
      { logBytes: this.store.logBytes(), pagesNotCopied: copy.log - copy.copied, heldBackSeconds: Math.round((now - this.heldBack.since) / 1000) },
      "another connection's read of the store keeps part of its log from being copied into the database; the log grows until that reader (a backup, a shell holding a transaction) lets go",
    );
  }
}
