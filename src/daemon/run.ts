import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import cron from 'node-cron';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { describeError } from '../errors.js';
import type { Config, SamlSourceConfig, ScimPushSourceConfig } from '../config/schema.js';
import { createLogger, prettyLogs } from '../log.js';
import { HEALTHCHECK_PORT_FILE } from '../healthcheck-port.js';
import { createApp, PROCESS_NONCE, type App } from '../main.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { createHttpApp, listen } from '../server/http.js';
import { mountSaml } from '../server/saml.js';
import { mountScimPush } from '../server/scim-push.js';
import type { FastRoute } from '../server/scim-lookups.js';
import { mountUi } from '../server/ui/index.js';
import { Daemon } from './daemon.js';
import { LOG_PAGES_BETWEEN_RUNS, RunThread } from './run-thread.js';

/**
 * `convsync daemon`: schedule, HTTP server and signal handling. Resolves with the exit code once
 * stopped: the first SIGTERM/SIGINT stops taking work, lets the call in flight finish and be
 * journaled, closes the store and exits 0; a second one exits at once.
 */
export async function runDaemon(config: Config): Promise<number> {
  const logger = createLogger(config.log.level);
  const log = logger.child({ component: 'daemon' });
  logCronThrough(log);
  const controller = new AbortController();
  let stop: (why: string, code: number) => Promise<void> = async () => undefined;
  const app = await createApp(config, {
    logger,
    writer: 'daemon',
    signal: controller.signal,
    // another convsync may write now: stop serving pushes and runs; the orchestrator restarts us
    onLeaseLost: () => {
      daemon.status.leaseLost = true;
      void stop('lease lost', 1);
    },
  });
  const metrics = createMetrics({ storeLogBytes: () => app.store.wal.bytes() });
  // the run thread copies the log once idle: a push or a lease renewal during a run does not
  app.store.wal.checkpointAt(2 * LOG_PAGES_BETWEEN_RUNS);
  const runs = new RunThread(config, {
    nonce: PROCESS_NONCE,
    pretty: prettyLogs(),
    backendId: app.backend.id,
    onProgress: (figures) => daemon.progress(figures),
    onRunStarted: (runId) => daemon.started(runId),
    onBackendResponse: (status) => metrics.backendRequests.inc({ backend: config.backend.type, status: String(status) }),
  });
  const daemon = new Daemon(app, metrics, { schedule: config.schedule, debounceMs: config.daemon.debounceMs }, runs);
  let server;
  try {
    await runs.start();
    let lookups: FastRoute[] = [];
    const http = createHttpApp({
      config,
      store: app.store,
      daemon,
      metrics,
      logger,
      mount: (express) => (lookups = mountSources(express, config, app, daemon, metrics)),
    });
    server = await listen(http, config.server.host, config.server.port, lookups);
  } catch (e) {
    await runs.close();
    await app.close();
    throw e;
  }
  log.info({ url: server.url, schedule: config.schedule }, 'convsync daemon listening');
  const port = (server.server.address() as AddressInfo).port;
  tellHealthcheck(port);
  keepServingOnStrayErrors(log);
  daemon.start();

  return new Promise<number>((resolve) => {
    let stopping = false;
    stop = async (signal: string, code: number) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal, graceMs: config.daemon.shutdownGraceMs }, 'stopping: finishing the call in flight');
      server.server.close();
      forgetHealthcheck(port);
      controller.abort();
      runs.abort();
      const finished = await daemon.stop(config.daemon.shutdownGraceMs);
      if (!finished) log.warn('the run did not finish within the grace period; its pending ops are resolved at the next start');
      server.server.closeAllConnections();
      await runs.close();
      await app.close();
      log.info('stopped');
      resolve(code);
    };
    process.on('SIGTERM', () => void stop('SIGTERM', 0));
    process.on('SIGINT', () => void stop('SIGINT', 0));
  });
}

/**
 * A promise nobody awaited, or a throw in a callback, is logged and the daemon goes on serving:
 * every write is journaled, so one failed request or run must not take SCIM push and SAML down.
 */
function keepServingOnStrayErrors(log: Logger): void {
  process.on('unhandledRejection', (reason) => log.error({ err: describeError(reason) }, 'unhandled rejection (the daemon goes on)'));
  process.on('uncaughtException', (e) => log.error({ err: describeError(e) }, 'uncaught exception (the daemon goes on)'));
}

/** the routes of the sources that receive their data (SCIM push, SAML) and the status page */
function mountSources(express: Express, config: Config, app: App, daemon: Daemon, metrics: Metrics): FastRoute[] {
  const { logger } = app;
  const pushSources = config.sources.filter((s): s is ScimPushSourceConfig => s.type === 'scim-push');
  const lookups = mountScimPush(express, {
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
    onChange: (groups) => daemon.changed(groups, 'saml'),
    onLogin: (result) => metrics.samlLogins.inc({ result }),
  });
  mountUi(express, { config, store: app.store, daemon, logger });
  return lookups;
}

/** node-cron prints its own plain-text lines otherwise */
function logCronThrough(log: Logger): void {
  cron.setLogger({
    info: (m) => log.debug({ from: 'node-cron' }, m),
    warn: (m) => log.warn({ from: 'node-cron' }, m),
    error: (m) => log.error({ from: 'node-cron' }, String(m)),
    debug: (m) => log.debug({ from: 'node-cron' }, String(m)),
  });
}

/** a daemon that stopped leaves no port behind (unless another daemon wrote its own since) */
function forgetHealthcheck(port: number): void {
  try {
    if (readFileSync(HEALTHCHECK_PORT_FILE, 'utf8') === String(port)) unlinkSync(HEALTHCHECK_PORT_FILE);
  } catch {
    // not there, or not ours to remove
  }
}

/** where the container's HEALTHCHECK (healthcheck.ts) finds the port, whatever configured it */
function tellHealthcheck(port: number): void {
  try {
    writeFileSync(HEALTHCHECK_PORT_FILE, String(port));
  } catch {
    // a read-only /tmp: the check falls back to CONVSYNC_SERVER__PORT or 8080
  }
}
