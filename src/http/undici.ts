import type * as Undici from 'undici';
import api from 'undici/lib/api/index.js';
import DispatcherClass from 'undici/lib/dispatcher/dispatcher.js';
import PoolClass from 'undici/lib/dispatcher/pool.js';
import { getGlobalDispatcher as globalDispatcher } from 'undici/lib/global.js';

/**
 * The parts of undici convsync uses, loaded without undici's index: that also loads fetch,
 * WebSocket, the caches and cookies, and through them Node's own copy of undici, which is a tenth
 * of a second of every CLI run's start for code convsync never calls. The classes are undici's own.
 */
export const Dispatcher = DispatcherClass;
export type Dispatcher = Undici.Dispatcher;
export const Pool = PoolClass;
export type Pool = Undici.Pool;
export const getGlobalDispatcher = globalDispatcher;

// what undici's index does: the request API as methods of every dispatcher
Object.assign(DispatcherClass.prototype, api);

type RequestOptions = Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path'> & { dispatcher: Undici.Dispatcher };

/** undici's `request(url, options)`: the URL split into origin and path, sent on `options.dispatcher` */
export function request(url: string, options: RequestOptions): Promise<Undici.Dispatcher.ResponseData> {
  const { dispatcher, ...rest } = options;
  const u = new URL(url);
  // called on the dispatcher as undici's own request() does: a global dispatcher put in place by
  // someone else (Node's own copy of undici, behind NODE_USE_ENV_PROXY) needs only `dispatch`
  return api.request.call(dispatcher, { ...rest, origin: u.origin, path: `${u.pathname}${u.search}` }) as Promise<Undici.Dispatcher.ResponseData>;
}
