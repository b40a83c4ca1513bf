import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.js';
import { DaemonStoppingError, describeError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { DaemonControl } from './daemon-control.js';
import { route } from './route.js';
import { mountRunRoutes } from './run-routes.js';
import type { FastRoute } from './scim-lookups.js';
import { syncTokenGate } from './token-gate.js';

export type { DaemonControl, DaemonStatus } from './daemon-control.js';
export { route } from './route.js';

export interface HttpDeps {
  config: Config;
  store: Store;
  daemon: DaemonControl;
  metrics: Metrics;
  logger: Logger;
  /** extra routers (SCIM push, SAML) mounted before the fallback */
  mount?: (app: Express) => void;
}

/** The daemon's one HTTP server: /healthz, /readyz, /metrics, POST /sync and /approve/{run}, and the SCIM push and SAML routes. */
export function createHttpApp(deps: HttpDeps): Express {
  const { config, store, daemon, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');

  const gate = syncTokenGate(config, deps.logger);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', (req, res) => {
    const problems: string[] = [];
    let storeOk = false;
    try {
      storeOk = store.ping();
    } catch {
      storeOk = false;
    }
    if (!storeOk) problems.push('the store is not open');
    if (!daemon.status.backendOk)
      problems.push(`the backend refused the credentials${daemon.status.lastErrorLabel ? `: ${daemon.status.lastErrorLabel}` : ''}`);
    if (daemon.status.leaseLost) problems.push('the writer lease was lost');
    if (daemon.status.lastResult === 'error' || daemon.status.lastResult === 'failed') problems.push(`the last run ${daemon.status.lastResult}`);
    // error texts can name hosts, files and accounts: only a caller with the token sees them
    const { lastError, ...status } = daemon.status;
    const detailed = lastError !== undefined && gate.given(req) === 'ok';
    res.status(problems.length === 0 ? 200 : 503).json({ ready: problems.length === 0, problems, ...status, ...(detailed ? { lastError } : {}) });
  });

  app.get(
    '/metrics',
    route(async (_req, res) => {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    }),
  );

  mountRunRoutes(app, daemon, gate.require);

  deps.mount?.(app);

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  app.use((err: Error & { status?: number; type?: string }, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return void res.end();
    // body-parser's own refusals (too large, malformed) and a path Express cannot decode are the client's mistake
    if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
      const why =
        err instanceof URIError
          ? 'the request path cannot be read (a malformed %-escape)'
          : err.type === 'entity.too.large'
            ? 'the request body is too large'
            : 'the request body cannot be read';
      res.status(err.status).json({ error: why });
      return;
    }
    deps.logger.error({ err: describeError(err), path: req.path }, 'request failed');
    res
      .status(err instanceof DaemonStoppingError ? 503 : 500)
      .json({ error: err instanceof DaemonStoppingError ? err.message : 'internal error (see the daemon log)' });
  });
  return app;
}

/** time limits, so that a slow or stalled client cannot hold a connection or a request open */
const HEADERS_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 60_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/** the Express app behind `fast`: routes that answer the requests they can before Express sees them */
export async function listen(app: Express, host: string, port: number, fast: readonly FastRoute[] = []): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    for (const route of fast) if (route(req, res)) return;
    app(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  const addr = server.address() as AddressInfo;
  return { server, url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` };
}
