import type { Logger } from 'pino';

export interface ProgressFigures {
  done: number;
  total: number;
  perSecond: number;
  secondsLeft: number | undefined;
}

/**
 * Progress of a long apply: on a terminal, one line rewritten in place (done/total, rate, time
 * left); otherwise a JSON log line every few seconds.
 */
export class Progress {
  private done = 0;
  private readonly started = Date.now();
  private lastLog = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly total: number,
    private readonly logger: Logger,
    private readonly tty: NodeJS.WriteStream | undefined,
    private readonly everyMs = 5000,
    /** told of every step (the daemon's status page streams it) */
    private readonly observe?: (figures: ProgressFigures) => void,
  ) {
    if (tty && total > 0) this.timer = setInterval(() => this.draw(), 250).unref();
    observe?.(this.figures());
  }

  tick(n = 1): void {
    this.done += n;
    this.observe?.(this.figures());
    if (!this.tty && Date.now() - this.lastLog >= this.everyMs) {
      this.lastLog = Date.now();
      this.logger.info({ progress: this.figures() }, 'applying');
    }
  }

  finish(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.tty && this.total > 0) {
      this.draw();
      this.tty.write('\n');
    }
  }

  figures(): ProgressFigures {
    const seconds = (Date.now() - this.started) / 1000;
    const rate = seconds > 0 ? this.done / seconds : 0;
    const left = rate > 0 ? Math.ceil((this.total - this.done) / rate) : undefined;
    return { done: this.done, total: this.total, perSecond: Math.round(rate * 10) / 10, secondsLeft: left };
  }

  private draw(): void {
    const f = this.figures();
    const eta = f.secondsLeft === undefined ? '' : ` · ~${f.secondsLeft}s left`;
    this.tty!.write(`\r  applying ${f.done}/${f.total} calls · ${f.perSecond}/s${eta}   `);
  }
}
