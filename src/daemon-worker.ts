import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from './config/schema.js';
import { runnerOf, type Runner } from './daemon/runner.js';
import { LogCopier } from './daemon/log-copier.js';
import {
  IDLE_CHECKPOINT_MS,
  LOG_HELD_BACK_TELL_MS,
  LOG_PAGES_BETWEEN_RUNS,
  LOG_RESTART_PAGES,
  type FromRunThread,
  type ToRunThread,
} from './daemon/run-thread.js';
import { describeError, toPlainError } from './errors.js';
import { createLogger } from './log.js';
import { createApp } from './main.js';

/**
 * The daemon's runs, on a thread of their own (src/daemon/run-thread.ts starts it): reading,
 * planning and applying take seconds of CPU on a large directory, and on the daemon's thread they
 * held SCIM pushes, SAML logins and health checks for that long. It writes under the daemon's
 * writer lease, with its own connection to the store.
 */
const { config, nonce, pretty } = workerData as { config: Config; nonce: string; pretty: boolean };
const port = parentPort!;
const post = (m: FromRunThread) => port.postMessage(m);
const logger = createLogger(config.log.level, { pretty });
const stop = new AbortController();
// a stray error may have broken a run's chain of promises: the thread ends (its calls fail, the
// daemon starts another) rather than leave a run that never settles
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (e: unknown) => {
    logger.error({ err: describeError(e) }, 'stray error on the run thread: it ends, the next run starts another');
    process.exit(1);
  });
}

try {
  const app = await createApp(config, {
    logger,
    writer: 'daemon',
    sharedLease: { nonce },
    signal: stop.signal,
    onBackendResponse: (status) => post({ type: 'backend-response', status }),
  });
  app.store.wal.checkpointAt(LOG_PAGES_BETWEEN_RUNS);
  const runner = runnerOf({
    ...app,
    onProgress: (figures) => post({ type: 'progress', figures }),
    onRunStart: (runId) => post({ type: 'run-started', runId }),
  });
  const copier = new LogCopier(app.store.wal, logger, {
    everyMs: IDLE_CHECKPOINT_MS,
    tellHeldBackAfterMs: LOG_HELD_BACK_TELL_MS,
    restartAtPages: LOG_RESTART_PAGES,
  });
  port.on('message', (m: ToRunThread) => {
    if (m.type === 'abort') stop.abort();
    else if (m.type === 'close') {
      copier.stop();
      void app.close().finally(() => port.close());
    } else void copier.around(() => answer(runner, m));
  });
  post({ type: 'ready', backendId: runner.backendId() });
} catch (e) {
  post({ type: 'failed', error: toPlainError(e) });
  port.close();
}

async function answer(runner: Runner, m: Extract<ToRunThread, { id: number }>): Promise<void> {
  try {
    const value = m.type === 'run' ? await runner.run(m.opts) : m.type === 'approve' ? await runner.approve(m.heldIn) : await runner.explain(m.kind, m.query);
    post({ type: 'answer', id: m.id, value, backendId: runner.backendId() });
  } catch (e) {
    post({ type: 'error', id: m.id, error: toPlainError(e), backendId: runner.backendId() });
  }
}
