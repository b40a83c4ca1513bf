import type { Logger } from 'pino';
import type { Backend, Whoami } from '../backends/types.js';
import { cappedRetryAfter, withRetry, type RetryPolicy } from '../http/retry.js';
import { TokenBucket } from './rate-limit.js';

/** every method that changes something on the backend: unreachable in a dry run */
const MUTATORS = new Set(['create', 'addMembers', 'removeMembers', 'rename', 'delete', 'archive', 'updateConversation', 'createUser']);

export interface CallerOptions {
  dryRun: boolean;
  ratePerSecond: number;
  burst: number;
  retry: RetryPolicy;
  logger: Logger;
  signal?: AbortSignal;
  /**
   * Checked right before each call that changes something (throws when this process is no longer
   * the writer): a process frozen past its lease's life, whose pending op the new writer resolved
   * meanwhile, must not send it when it resumes (its journal write came before the wait).
   */
  fence?: () => void;
}

/**
 * The one way the reconciler reaches a backend: under its rate limit, retried on transient
 * errors, and — in a dry run — through a backend whose mutating methods throw.
 */
export class BackendCaller {
  readonly backend: Backend;
  private readonly bucket: TokenBucket;
  private self: Promise<Whoami> | undefined;

  constructor(
    backend: Backend,
    private readonly opts: CallerOptions,
  ) {
    this.backend = opts.dryRun ? readOnly(backend) : opts.fence ? fenced(backend, opts.fence) : backend;
    this.bucket = new TokenBucket(opts.ratePerSecond, opts.burst);
  }

  get retry(): RetryPolicy {
    return this.opts.retry;
  }

  /**
   * One backend call. `resend: false` is for calls that must not be repeated blindly (a create):
   * a failure after which the change may have been made is thrown to the caller, who looks first.
   */
  attempt<T>(fn: () => Promise<T>, opts: { resend?: boolean } = {}): Promise<T> {
    const { signal, retry, logger } = this.opts;
    return withRetry(
      async () => {
        await this.bucket.take(signal);
        return fn();
      },
      retry,
      {
        signal,
        ...(opts.resend === false ? { retryable: (e) => !e.ambiguous } : {}),
        onRetry: (e, attempt, delayMs) => {
          if (e.throttled) this.bucket.slowDown();
          const wait = cappedRetryAfter(e, retry);
          if (wait > 0) this.bucket.pause(wait);
          logger.debug({ err: e.describe(), attempt, delayMs }, 'transient failure: retrying');
        },
      },
    );
  }

  /** the daemon's own backend identity, asked once per run */
  whoami(): Promise<Whoami> {
    const pending = (this.self ??= this.attempt(() => this.backend.whoami()));
    pending.catch(() => (this.self = undefined));
    return pending;
  }
}

/** the backend whose mutating methods check the writer lease first, right before their call */
function fenced(backend: Backend, fence: () => void): Backend {
  return new Proxy(backend, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      const f = (v as (...a: unknown[]) => unknown).bind(target);
      if (typeof prop !== 'string' || !MUTATORS.has(prop)) return f;
      return (...args: unknown[]) => {
        fence();
        return f(...args);
      };
    },
  });
}

/** the backend as a dry run sees it: reads work, every mutating method throws */
function readOnly(backend: Backend): Backend {
  return new Proxy(backend, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && MUTATORS.has(prop)) {
        return () => {
          throw new Error(`dry-run: ${prop} must not be called`);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
