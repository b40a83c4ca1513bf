import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A token bucket for backend calls. On throttling (Wire 420, 429) the rate halves; each call
 * after that wins a little of it back, up to the configured rate (additive increase,
 * multiplicative decrease).
 */
export class TokenBucket {
  private tokens: number;
  private rate: number;
  private last = Date.now();
  /** no token is handed out before this time (a server's Retry-After holds every caller) */
  private pausedUntil = 0;
  /** callers queue so that tokens are handed out in order */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly maxRate: number,
    private readonly burst: number,
  ) {
    this.rate = maxRate;
    this.tokens = burst;
  }

  get currentRate(): number {
    return this.rate;
  }

  take(signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(() => this.waitForToken(signal));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** every caller waits: a Retry-After is about the client, not about one request */
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
  }

  slowDown(): void {
    this.rate = Math.max(this.maxRate / 32, this.rate / 2);
    this.tokens = Math.min(this.tokens, 0);
  }

  private async waitForToken(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = Date.now();
      if (now < this.pausedUntil) {
        await sleep(this.pausedUntil - now, undefined, signal ? { signal } : undefined);
        continue;
      }
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        this.rate = Math.min(this.maxRate, this.rate + this.maxRate / 50);
        return;
      }
      await sleep(Math.ceil(((1 - this.tokens) / this.rate) * 1000), undefined, signal ? { signal } : undefined);
    }
  }
}
