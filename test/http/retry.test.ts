import { describe, expect, it } from 'vitest';
import { TransientError } from '../../src/errors.js';
import { withRetry } from '../../src/http/retry.js';

describe('retry', () => {
  it('waits at least Retry-After, with full jitter under the exponential ceiling otherwise', async () => {
    const delays: number[] = [];
    let n = 0;
    const out = await withRetry(
      async () => {
        n++;
        if (n === 1) throw new TransientError('slow down', { origin: 't', retryAfterMs: 40, throttled: true });
        if (n < 4) throw new TransientError('5xx', { origin: 't' });
        return 'ok';
      },
      { maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 15 },
      { onRetry: (_e, _a, d) => delays.push(d), random: () => 0.999 },
    );
    expect(out).toBe('ok');
    expect(delays[0]).toBeGreaterThanOrEqual(40);
    // ceilings min(15, 10·2ⁿ⁻¹) = 15 for attempts 2 and 3; random 0.999 → 14
    expect(delays.slice(1)).toEqual([14, 14]);
  });

  it('does not retry permanent errors, and rethrows the last transient one', async () => {
    let n = 0;
    await expect(
      withRetry(
        async () => {
          n++;
          throw new Error('permanent');
        },
        { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 1 },
      ),
    ).rejects.toThrow('permanent');
    expect(n).toBe(1);
    await expect(
      withRetry(
        async () => {
          throw new TransientError('down', { origin: 't' });
        },
        { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
      ),
    ).rejects.toThrow('down');
  });

  it('caps Retry-After at maxRetryAfterMs', async () => {
    const delays: number[] = [];
    let n = 0;
    await withRetry(
      async () => {
        if (++n === 1) throw new TransientError('come back in an hour', { origin: 't', retryAfterMs: 3_600_000, throttled: true });
        return 'ok';
      },
      { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 30 },
      { onRetry: (_e, _a, d) => delays.push(d), random: () => 0 },
    );
    expect(delays).toEqual([30]);
  });

  it('a call that must not be repeated is not retried after an ambiguous failure, but is after one that never reached the server', async () => {
    let n = 0;
    const ambiguous = () =>
      withRetry(
        async () => {
          n++;
          throw new TransientError('502', { origin: 't', status: 502, ambiguous: true });
        },
        { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 1 },
        { retryable: (e) => !e.ambiguous },
      );
    await expect(ambiguous()).rejects.toThrow('502');
    expect(n).toBe(1);
    n = 0;
    const refused = () =>
      withRetry(
        async () => {
          n++;
          throw new TransientError('ECONNREFUSED', { origin: 't' });
        },
        { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
        { retryable: (e) => !e.ambiguous },
      );
    await expect(refused()).rejects.toThrow('ECONNREFUSED');
    expect(n).toBe(3);
  });
});
