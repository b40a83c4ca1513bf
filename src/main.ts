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

/** config → store → sources → backend: everything a run needs, closed together. */
export function createApp(config: Config, opts: { logger: Logger; dispatcher?: Dispatcher; tty?: NodeJS.WriteStream; signal?: AbortSignal }): App {
  const { logger } = opts;
  const ctx = { logger, ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}) };
  const store = Store.open(config.store.path);
  try {
    const sources = config.sources.map((s) => createSource(s, ctx));
    const backend = createBackend(config.backend, ctx);
    return {
      config,
      store,
      sources,
      backend,
      logger,
      ...(opts.tty ? { tty: opts.tty } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      async close() {
        await backend.close?.().catch(() => undefined);
        store.close();
      },
    };
  } catch (e) {
    store.close();
    throw e;
  }
}
