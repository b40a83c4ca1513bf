import { setTimeout as sleep } from 'node:timers/promises';
import { TransientError } from '../errors.js';

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** a server's Retry-After is honoured up to this (a misconfigured edge may ask for hours) */
  maxRetryAfterMs?: number;
  /** a Retry-After longer than this is not waited for at all: the error is thrown (a source's read is made again at the next run) */
  giveUpBeyondMs?: number;
}

export interface RetryHooks {
  signal?: AbortSignal;
  /** called before each wait, e.g. to slow the rate limiter on throttling */
  onRetry?: (error: TransientError, attempt: number, delayMs: number) => void;
  random?: () => number;
  /** false stops the retries for this error (a create whose answer was lost is looked for instead) */
  retryable?: (error: TransientError) => boolean;
}

/**
 * Exponential backoff with full jitter (a random wait between 0 and base·2ⁿ, capped), never shorter
 * than the server's Retry-After (itself capped by `maxRetryAfterMs`). Only transient errors are retried; the last one is rethrown.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy, hooks: RetryHooks = {}): Promise<T> {
  const random = hooks.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!(e instanceof TransientError) || attempt >= policy.maxAttempts || hooks.retryable?.(e) === false) throw e;
      if (policy.giveUpBeyondMs !== undefined && (e.retryAfterMs ?? 0) > policy.giveUpBeyondMs) throw waitRefused(e, policy.giveUpBeyondMs);
      const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      const delay = Math.max(cappedRetryAfter(e, policy), Math.floor(random() * ceiling));
      hooks.onRetry?.(e, attempt, delay);
      await sleep(delay, undefined, hooks.signal ? { signal: hooks.signal } : undefined);
    }
  }
}

/** the error of a server that asks to be left alone longer than a caller waits */
function waitRefused(e: TransientError, limitMs: number): TransientError {
  const s = (ms: number) => `${Math.ceil(ms / 1000)} s`;
  return new TransientError(`${e.message} (it asks to wait ${s(e.retryAfterMs ?? 0)}, more than the ${s(limitMs)} a read waits: given up)`, {
    origin: e.origin,
    ...(e.label !== undefined && { label: e.label }),
    ...(e.status !== undefined && { status: e.status }),
    throttled: e.throttled,
    cause: e,
  });
}

/** the server's Retry-After, capped by the policy */
export function cappedRetryAfter(e: TransientError, policy: Pick<RetryPolicy, 'maxRetryAfterMs'>): number {
  return Math.min(e.retryAfterMs ?? 0, policy.maxRetryAfterMs ?? Infinity);
}
