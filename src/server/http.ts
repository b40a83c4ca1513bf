import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.js';
import { readSecret } from '../config/secrets.js';
import type { Daemon } from '../daemon/daemon.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import { bearerMatches } from './auth.js';

export interface HttpDeps {
  config: Config;
  store: Store;
  daemon: Daemon;
  metrics: Metrics;
  logger: Logger;
  /** extra routers (SCIM push, SAML) mounted before the fallback */
  mount?: (app: Express) => void;
}

/** The daemon's one HTTP server: /healthz, /readyz, /metrics, POST /sync, and the SCIM push and SAML routes. */
export function createHttpApp(deps: HttpDeps): Express {
  const { config, store, daemon, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', (_req, res) => {
    const problems: string[] = [];
    let storeOk = false;
    try {
      storeOk = store.ping();
    } catch {
      storeOk = false;
    }
    if (!storeOk) problems.push('the store is not open');
    if (!daemon.status.backendOk) problems.push(`the backend refused the credentials${daemon.status.lastError ? `: ${daemon.status.lastError}` : ''}`);
    if (daemon.status.lastResult === 'error' || daemon.status.lastResult === 'failed') problems.push(`the last run ${daemon.status.lastResult}`);
    res.status(problems.length === 0 ? 200 : 503).json({ ready: problems.length === 0, problems, ...daemon.status });
  });

  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.post('/sync', async (req: Request, res: Response) => {
    if (config.server.syncToken === undefined && config.server.syncTokenFile === undefined) {
      res.status(404).json({ error: 'POST /sync is disabled: set server.syncToken or server.syncTokenFile' });
      return;
    }
    if (!bearerMatches(req.header('authorization'), readSecret(config.server, 'syncToken'))) {
      res.status(401).set('www-authenticate', 'Bearer').json({ error: 'a valid bearer token is required' });
      return;
    }
    const outcome = daemon.request('all', 'api');
    if (req.query.wait !== 'true') {
      res.status(202).json({ queued: true });
      return;
    }
    const o = await outcome;
    res.status(200).json(o ? { runId: o.runId, exitCode: o.exitCode, summary: o.plan.summary } : { runId: null, error: daemon.status.lastError ?? 'stopping' });
  });

  deps.mount?.(app);

  app.use((_req, res) => {
    res.status(404).json({ error: 'not found' });
  });
  app.use((err: Error, req: Request, res: Response, _next: NextFunction) => {
    deps.logger.error({ err: err.message, path: req.path }, 'request failed');
    res.status(500).json({ error: 'internal error' });
  });
  return app;
}

export async function listen(app: Express, host: string, port: number): Promise<{ server: Server; url: string }> {
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, host, () => resolve(s));
    s.once('error', reject);
  });
  const addr = server.address() as AddressInfo;
  return { server, url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` };
}
