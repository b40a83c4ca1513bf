import { StalePlanError } from '../errors.js';
import { createLogger } from '../log.js';
import { createApp, type App } from '../main.js';
import { EXIT } from '../reconcile/outcome.js';
import { LeaseError, type LeaseHolder } from '../store/store.js';
import type { Config } from '../config/schema.js';
import { load, type Flags } from './flags.js';

/**
 * A command that writes: the app with the writer lease, progress on a terminal, the first signal
 * stopping after the call in flight; a stale plan or approval is refused with exit 1.
 */
export async function withWriter(
  flags: Flags,
  writer: string,
  fn: (app: App) => Promise<number>,
  viaDaemon?: (holder: LeaseHolder, config: Config) => Promise<number>,
): Promise<number> {
  const config = load(flags);
  let app: App;
  try {
    app = await createApp(config, {
      logger: createLogger(config.log.level),
      writer,
      tty: process.stderr.isTTY ? process.stderr : undefined,
      signal: stopSignal(),
    });
  } catch (e) {
    if (viaDaemon && e instanceof LeaseError && e.holder?.command === 'daemon') return refusedAsStale(() => viaDaemon(e.holder!, config));
    throw e;
  }
  try {
    const code = await refusedAsStale(() => fn(app));
    const lost = app.leaseLost();
    if (lost === undefined) return code;
    process.stderr.write(`stopped: ${lost}\n`);
    return EXIT.error;
  } finally {
    await app.close();
  }
}

export async function refusedAsStale(fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof StalePlanError) {
      process.stderr.write(`refused: ${e.message}\n`);
      return EXIT.error;
    }
    throw e;
  }
}

/** the first SIGINT/SIGTERM stops taking new ops (the call in flight finishes and is journaled) */
function stopSignal(): AbortSignal {
  const controller = new AbortController();
  const stop = () => {
    if (controller.signal.aborted) process.exit(EXIT.error);
    process.stderr.write('stopping after the call in flight (signal again to force)\n');
    controller.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return controller.signal;
}
