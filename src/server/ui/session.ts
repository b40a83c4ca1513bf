import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface Session {
  id: string;
  /** sent back in every form: a POST without it is refused */
  csrf: string;
  createdAt: number;
  seenAt: number;
  /** a message for the next page shown (after a POST and its redirect) */
  notice?: string;
}

/** both sides hashed first, so neither the content nor the length of the expected token leaks through timing */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export const randomToken = () => randomBytes(32).toString('base64url');

/**
 * Signed-in browsers, in memory: a daemon restart signs everyone out, which is fine for an
 * operator's page. A session ends after `idleMs` unused or `maxAgeMs` in all; at most `max` live
 * at once (the oldest goes first).
 */
export class Sessions {
  private readonly byId = new Map<string, Session>();

  constructor(private readonly opts: { idleMs: number; maxAgeMs: number; max: number; now?: () => number }) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  create(): Session {
    const t = this.now();
    this.sweep(t);
    while (this.byId.size >= this.opts.max) this.byId.delete(this.byId.keys().next().value!);
    const s: Session = { id: randomToken(), csrf: randomToken(), createdAt: t, seenAt: t };
    this.byId.set(s.id, s);
    return s;
  }

  /** the live session of this id, its idle time renewed */
  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const s = this.byId.get(id);
    if (!s) return undefined;
    const t = this.now();
    if (this.expired(s, t)) {
      this.byId.delete(id);
      return undefined;
    }
    s.seenAt = t;
    return s;
  }

  end(id: string): void {
    this.byId.delete(id);
  }

  private expired(s: Session, t: number): boolean {
    return t - s.seenAt > this.opts.idleMs || t - s.createdAt > this.opts.maxAgeMs;
  }

  private sweep(t: number): void {
    for (const [id, s] of this.byId) if (this.expired(s, t)) this.byId.delete(id);
  }
}

/**
 * Failed sign-ins per client address, and in all, within a sliding window: past either limit the
 * form answers 429 until the oldest failure leaves the window. A long random token cannot be
 * guessed anyway; this keeps a guesser from trying many short ones.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();
  private all: number[] = [];

  constructor(private readonly opts: { perClient: number; total: number; windowMs: number; now?: () => number }) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** seconds until this client may try again; 0 when it may now */
  waitSeconds(client: string): number {
    const t = this.now();
    const cut = t - this.opts.windowMs;
    this.all = this.all.filter((x) => x > cut);
    const mine = (this.failures.get(client) ?? []).filter((x) => x > cut);
    if (mine.length === 0) this.failures.delete(client);
    else this.failures.set(client, mine);
    // the overall limit holds back only clients that failed themselves: others' failures never lock
    // out an operator who has the token
    const blockedBy = mine.length >= this.opts.perClient ? mine : mine.length > 0 && this.all.length >= this.opts.total ? this.all : undefined;
    return blockedBy ? Math.max(1, Math.ceil((blockedBy[0]! + this.opts.windowMs - t) / 1000)) : 0;
  }

  failed(client: string): void {
    const t = this.now();
    // every failure counts towards `total`, so the clients remembered stay few once old ones go
    for (const [c, times] of this.failures) if (times.at(-1)! <= t - this.opts.windowMs) this.failures.delete(c);
    this.all.push(t);
    this.failures.set(client, [...(this.failures.get(client) ?? []), t]);
  }
}
