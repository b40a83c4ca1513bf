import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { createBackend } from './backends/registry.js';
import type { Backend } from './backends/types.js';
import type { Config } from './config/schema.js';
import type { RunDeps } from './reconcile/run.js';
import { createSource } from './sources/registry.js';
import { closeIdleConnections } from './http/dispatcher.js';
import { LeaseKeeper } from './lease-keeper.js';
import { pidNamespace, Store } from './store/store.js';

/**
 * Tells this process's lease from another's with the same host name and pid (containers); a thread
 * writing under the daemon's lease is given it.
 */
export const PROCESS_NONCE = randomUUID();
const PID_NAMESPACE = pidNamespace();

export interface App extends RunDeps {
  backend: Backend;
  /** why this writer lost its lease (it then stopped taking ops), if it did */
  leaseLost(): string | undefined;
  close(): Promise<void>;
}

/**
 * config → store → sources → backend: everything a run needs, closed together. `writer` names the
 * command: it takes the store's single-writer lease, renewed while the app lives.
 */
export async function createApp(
  config: Config,
  opts: {
    logger: Logger;
    /** the command, when it writes: it then takes the single-writer lease */
    writer?: string;
    dispatcher?: Dispatcher;
    tty?: NodeJS.WriteStream;
    signal?: AbortSignal;
    /** the writer lease could not be renewed: another convsync may write now, this one must stop */
    onLeaseLost?: (reason: string) => void;
    /** each HTTP answer of the chat backend, for metrics */
    onBackendResponse?: (status: number) => void;
    /**
     * The writer lease is another thread's of this process (the daemon's runs): taken under its
     * holder, renewed and released by that thread, not this app.
     */
    sharedLease?: { nonce: string };
  },
): Promise<App> {
  const { logger } = opts;
  const ctx = { logger, dispatcher: opts.dispatcher };
  const backendCtx = { ...ctx, onResponse: opts.onBackendResponse };
  const holder = {
    host: hostname(),
    pid: process.pid,
    command: opts.writer ?? 'read-only',
    nonce: opts.sharedLease?.nonce ?? PROCESS_NONCE,
    ...(PID_NAMESPACE !== undefined && { pidNs: PID_NAMESPACE }),
  };
  const owner = opts.writer !== undefined && opts.sharedLease === undefined;
  const store = Store.open(config.store.path, opts.writer ? { writer: holder } : {});
  // losing the lease stops the run like a signal does: the call in flight finishes and is journaled
  const stop = new AbortController();
  if (opts.signal) opts.signal.addEventListener('abort', () => stop.abort(), { once: true });
  const lease = owner
    ? new LeaseKeeper(store, holder, logger, (reason) => {
        stop.abort();
        opts.onLeaseLost?.(reason);
      })
    : undefined;
  try {
    const sources = await Promise.all(config.sources.map((s) => createSource(s, { ...ctx, store })));
    const credentials = {
      get: (name: string) => store.users.credential(name),
      put: (name: string, value: string, origin: string) => store.users.saveCredential(name, value, origin),
    };
    const backend = await createBackend(config.backend, { ...backendCtx, credentials, readOnly: !opts.writer });
    return {
      config,
      store,
      sources,
      backend,
      logger,
      tty: opts.tty,
      signal: stop.signal,
      leaseLost: () => lease?.lost,
      async close() {
        lease?.stop();
        await backend.close?.().catch(() => undefined);
        if (owner && !lease?.lost) store.lease.release(holder);
        store.close();
        await closeIdleConnections();
      },
    };
  } catch (e) {
    lease?.stop();
    if (owner) store.lease.release(holder);
    store.close();
    throw e;
  }
}
