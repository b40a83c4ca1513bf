import cron from 'node-cron';
import type { Config, SamlSourceConfig, ScimPushSourceConfig } from '../config/schema.js';
import { createLogger } from '../log.js';
import { createApp } from '../main.js';
import { createMetrics } from '../metrics.js';
import { createHttpApp, listen } from '../server/http.js';
import { mountSaml } from '../server/saml.js';
import { mountScimPush } from '../server/scim-push.js';
import { Daemon } from './daemon.js';

/**
 * `convsync daemon`: schedule, HTTP server and signal handling. Resolves with the exit code once
 * stopped: the first SIGTERM/SIGINT stops taking work, lets the call in flight finish and be
 * journaled, closes the store and exits 0; a second one exits at once.
 */
export async function runDaemon(config: Config): Promise<number> {
  const logger = createLogger(config.log.level);
  const log = logger.child({ component: 'daemon' });
  // node-cron prints its own plain-text lines otherwise
  cron.setLogger({
    info: (m) => log.debug({ from: 'node-cron' }, m),
    warn: (m) => log.warn({ from: 'node-cron' }, m),
    error: (m) => log.error({ from: 'node-cron' }, String(m)),
    debug: (m) => log.debug({ from: 'node-cron' }, String(m)),
  });
  const metrics = createMetrics();
  const controller = new AbortController();
  const app = createApp(config, {
    logger,
    writer: 'daemon',
    signal: controller.signal,
    onBackendResponse: (status) => metrics.backendRequests.inc({ backend: config.backend.type, status: String(status) }),
  });
  const daemon = new Daemon(app, metrics, { schedule: config.schedule, debounceMs: config.daemon.debounceMs });
  let server;
  try {
    const pushSources = config.sources.filter((s): s is ScimPushSourceConfig => s.type === 'scim-push');
    const http = createHttpApp({
      config,
      store: app.store,
      daemon,
      metrics,
      logger,
      mount: (express) => {
        mountScimPush(express, {
          sources: pushSources,
          store: app.store,
          logger,
          maxBodyBytes: config.server.maxBodyBytes,
          onChange: (groups) => daemon.changed(groups),
          onRequest: (method, status) => metrics.pushRequests.inc({ method, status: String(status) }),
        });
        mountSaml(express, {
          sources: config.sources.filter((s): s is SamlSourceConfig => s.type === 'saml'),
          mappings: config.mappings,
          identityFrom: config.identity.from,
          store: app.store,
          logger,
          maxBodyBytes: config.server.maxBodyBytes,
          onChange: (groups) => daemon.changed(groups),
          onLogin: (result) => metrics.samlLogins.inc({ result }),
        });
      },
    });
    server = await listen(http, config.server.host, config.server.port);
  } catch (e) {
    await app.close();
    throw e;
  }
  log.info({ url: server.url, schedule: config.schedule }, 'convsync daemon listening');
  daemon.start();

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal, graceMs: config.daemon.shutdownGraceMs }, 'stopping: finishing the call in flight');
      server.server.close();
      controller.abort();
      const finished = await daemon.stop(config.daemon.shutdownGraceMs);
      if (!finished) log.warn('the run did not finish within the grace period; its pending ops are resolved at the next start');
      server.server.closeAllConnections();
      await app.close();
      log.info('stopped');
      resolve(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
  });
}
