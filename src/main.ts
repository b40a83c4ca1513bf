import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { createBackend } from './backends/registry.js';
import type { Backend } from './backends/types.js';
import type { Config } from './config/schema.js';
import type { RunDeps } from './reconcile/run.js';
import { createSource } from './sources/registry.js';
import { Store } from './store/store.js';

export interface App extends RunDeps {
  backend: Backend;
  close(): Promise<void>;
}

const LEASE_TTL_MS = 30_000;

/**
 * config → store → sources → backend: everything a run needs, closed together. `writer` names the
 * command: it takes the store's single-writer lease, renewed while the app lives.
 */
export function createApp(
  config: Config,
  opts: {
    logger: Logger;
    /** the command, when it writes: it then takes the single-writer lease */
    writer?: string;
    dispatcher?: Dispatcher;
    tty?: NodeJS.WriteStream;
    signal?: AbortSignal;
    /** each HTTP answer of the chat backend, for metrics */
    onBackendResponse?: (status: number) => void;
  },
): App {
  const { logger } = opts;
  const ctx = { logger, ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}) };
  const backendCtx = { ...ctx, ...(opts.onBackendResponse ? { onResponse: opts.onBackendResponse } : {}) };
  const store = Store.open(config.store.path);
  const holder = { host: hostname(), pid: process.pid, command: opts.writer ?? 'read-only' };
  let renew: NodeJS.Timeout | undefined;
  try {
    if (opts.writer) store.lease.acquire(holder, LEASE_TTL_MS, isAlive);
    if (opts.writer) renew = setInterval(() => {
      try {
        store.lease.renew(holder);
      } catch (e) {
        logger.error({ err: (e as Error).message }, 'lost the writer lease');
      }
    }, LEASE_TTL_MS / 3).unref();
    const sources = config.sources.map((s) => createSource(s, { ...ctx, store }));
    const credentials = { get: (name: string) => store.users.credential(name), put: (name: string, value: string, origin: string) => store.users.saveCredential(name, value, origin) };
    const backend = createBackend(config.backend, { ...backendCtx, credentials });
    return {
      config,
      store,
      sources,
      backend,
      logger,
      ...(opts.tty ? { tty: opts.tty } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      async close() {
        clearInterval(renew);
        await backend.close?.().catch(() => undefined);
        if (opts.writer) store.lease.release(holder);
        store.close();
      },
    };
  } catch (e) {
    clearInterval(renew);
    store.close();
    throw e;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
