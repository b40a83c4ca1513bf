import type * as Undici from 'undici';
import { Dispatcher, getGlobalDispatcher, Pool } from './undici.js';

/**
 * undici keeps an idle keep-alive socket until a timer fires (the server's `Keep-Alive: timeout`
 * hint less a threshold). A timer cannot fire while the event loop is blocked — a plan of 30k
 * groups computed synchronously, a big source parsed — so after such a stage the next request was
 * written on a socket the server had closed meanwhile. For a create that is an ambiguous lost
 * answer (DESIGN §4), although the request never reached the server. This dispatcher makes the same
 * decision by the clock when a request is dispatched: an origin whose connections have all been
 * idle longer than the server keeps them gets new ones. It never touches a connection with a
 * request on it, so a create that was sent and lost its answer stays a lost answer.
 */

/** undici's own defaults, named so that the check by the clock and undici's timer agree */
const KEEP_ALIVE_TIMEOUT_MS = 4_000;
const KEEP_ALIVE_THRESHOLD_MS = 2_000;
const KEEP_ALIVE_MAX_MS = 600_000;

interface Origin {
  pool: Pool;
  dispatch: Dispatcher['dispatch'];
  /** requests dispatched and not yet finished (answer read, or failed) */
  inFlight: number;
  /** when the last of them finished */
  idleSince: number;
  /** how long an idle connection may be reused, from the server's last hint */
  keepMs: number;
}

export class FreshConnections extends Dispatcher {
  private readonly origins = new Map<string, Origin>();

  constructor(
    private readonly options: Undici.Pool.Options = {},
    /** a monotonic clock: a wall-clock step must not make a fresh connection look stale */
    private readonly now: () => number = () => performance.now(),
  ) {
    super();
  }

  override dispatch(opts: Undici.Dispatcher.DispatchOptions, handler: Undici.Dispatcher.DispatchHandler): boolean {
    const origin = this.originOf(String(opts.origin));
    origin.inFlight++;
    return origin.dispatch(opts, handler);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const done = Promise.all([...this.origins.values()].map((o) => o.pool.close())).then(() => undefined);
    this.origins.clear();
    if (!callback) return done;
    void done.then(callback);
  }

  override destroy(err: Error | null, callback: () => void): void;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null): Promise<void>;
  override destroy(): Promise<void>;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const err = typeof a === 'function' ? null : (a ?? null);
    const callback = typeof a === 'function' ? a : b;
    const done = Promise.all([...this.origins.values()].map((o) => o.pool.destroy(err))).then(() => undefined);
    this.origins.clear();
    if (!callback) return done;
    void done.then(callback);
  }

  private originOf(raw: string): Origin {
    const key = new URL(raw).origin;
    const known = this.origins.get(key);
    if (known && !this.stale(known)) return known;
    // nothing runs on the old pool (stale() says so): closing it destroys its idle sockets now
    if (known) void known.pool.close().catch(() => undefined);
    const origin = this.open(key);
    this.origins.set(key, origin);
    return origin;
  }

  /** every connection idle longer than the server keeps it, though undici's timers have not fired */
  private stale(o: Origin): boolean {
    return o.inFlight === 0 && this.now() - o.idleSince > o.keepMs && o.pool.stats.connected > 0;
  }

  private open(key: string): Origin {
    const pool = new Pool(key, {
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      keepAliveTimeoutThreshold: KEEP_ALIVE_THRESHOLD_MS,
      keepAliveMaxTimeout: KEEP_ALIVE_MAX_MS,
      ...this.options,
    });
    const origin: Origin = { pool, dispatch: () => false, inFlight: 0, idleSince: this.now(), keepMs: this.keepFor(undefined) };
    const tracked = pool.compose((next) => (opts, handler) => next(opts, this.track(origin, handler)));
    origin.dispatch = tracked.dispatch.bind(tracked);
    return origin;
  }

  /** the handler, told also to the origin's bookkeeping: when a request finishes, and the server's hint */
  private track(origin: Origin, handler: Undici.Dispatcher.DispatchHandler): Undici.Dispatcher.DispatchHandler {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      if (--origin.inFlight === 0) origin.idleSince = this.now();
    };
    return {
      onRequestStart: (c, context) => handler.onRequestStart?.(c, context),
      onRequestUpgrade: (c, status, headers, socket) => {
        finish();
        handler.onRequestUpgrade?.(c, status, headers, socket);
      },
      onResponseStart: (c, status, headers, message) => {
        if (status >= 200) origin.keepMs = this.keepFor(headers['keep-alive']);
        handler.onResponseStart?.(c, status, headers, message);
      },
      onResponseData: (c, chunk) => handler.onResponseData?.(c, chunk),
      onResponseEnd: (c, trailers) => {
        finish();
        handler.onResponseEnd?.(c, trailers);
      },
      onResponseError: (c, error) => {
        finish();
        handler.onResponseError?.(c, error);
      },
    };
  }

  /** undici's rule (client-h1 onHeadersComplete): the server's hint less the threshold, else the default */
  private keepFor(hint: string | string[] | undefined): number {
    const value = Array.isArray(hint) ? hint[0] : hint;
    const seconds = value === undefined ? undefined : /timeout=(\d+)/i.exec(value)?.[1];
    const threshold = this.options.keepAliveTimeoutThreshold ?? KEEP_ALIVE_THRESHOLD_MS;
    const max = this.options.keepAliveMaxTimeout ?? KEEP_ALIVE_MAX_MS;
    if (seconds === undefined) return this.options.keepAliveTimeout ?? KEEP_ALIVE_TIMEOUT_MS;
    return Math.max(0, Math.min(Number(seconds) * 1000 - threshold, max));
  }
}

let shared: FreshConnections | undefined;

/**
 * The dispatcher of every request made without one of its own (the chat backends, SCIM, auth).
 * A global dispatcher put in place on purpose (a test's nock, a proxy agent) is used as it is; only
 * undici's plain default Agent — of this copy of undici or of Node's own — is replaced.
 */
export function defaultDispatcher(): Dispatcher {
  const global = getGlobalDispatcher();
  if (global.constructor.name !== 'Agent') return global;
  shared ??= new FreshConnections();
  return shared;
}

/**
 * Closes the idle connections of the shared dispatcher (requests still running finish first; a
 * later request opens new ones): a one-shot command exits when its work is done, not when the
 * server lets its last keep-alive connection go.
 */
export async function closeIdleConnections(): Promise<void> {
  await shared?.close();
}
