import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import SCIMMYRouters, { SCIMMY } from 'scimmy-routers';
import type { ScimPushSourceConfig } from '../config/schema.js';
import { readSecret } from '../config/secrets.js';
import { describeError } from '../errors.js';
import { BUSY_DETAIL, errorBody, isScimError } from '../sources/scim-push/errors.js';
import { isBusy } from '../store/busy.js';
import { scimPushProvider, type ScimAnswer, type ScimSourceProvider } from '../sources/scim-push/provider.js';
import type { Store } from '../store/store.js';
import { bearerMatches } from './auth.js';
import { loggedBeforeRoutes, scimLookupRoute, type FastRoute } from './scim-lookups.js';
import { warmUpLookups, warmUpServiceProviderConfig } from './scim-warm-up.js';

export interface ScimPushDeps {
  sources: ScimPushSourceConfig[];
  store: Store;
  logger: Logger;
  maxBodyBytes: number;
  /** group keys (`<source>:<group id>`) whose membership or name changed */
  onChange: (groupKeys: string[]) => void;
  onRequest?: (method: string, status: number) => void;
}

/** how long a write of the warm-up (an answer rendered) waits for another writer's lock */
const WARM_UP_WAIT_MS = 50;

function sendError(res: Response, status: number, detail: string, scimType?: string): void {
  res
    .status(status)
    .type('application/scim+json')
    .send(errorBody(status, detail, scimType));
}

/** answers a request the provider handles; its SCIM errors become SCIM error answers */
function handle(res: Response, next: NextFunction, fn: () => ScimAnswer): void {
  try {
    const out = fn();
    res.status(out.status).type('application/scim+json');
    if (out.body === undefined) res.end();
    else res.send(out.body);
  } catch (e) {
    if (isScimError(e)) sendError(res, e.status, e.message, e.scimType);
    else next(e);
  }
}

/** the bearer token of the source, compared before any body is read; never accepted in the query string (access logs) */
function authenticate(source: ScimPushSourceConfig, logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    let token: string;
    try {
      token = readSecret(source, 'token');
    } catch (e) {
      logger.error({ source: source.name, err: (e as Error).message }, 'SCIM push token unreadable');
      sendError(res, 500, 'the service provider is not configured');
      return;
    }
    if (!bearerMatches(req.header('authorization'), token)) {
      res.set('www-authenticate', 'Bearer');
      sendError(res, 401, 'a valid bearer token is required in the Authorization header');
      return;
    }
    next();
  };
}

/** the provider's own routes: listings and searches from the store's indexes, group PATCH as deltas */
function providerRoutes(router: express.Router, provider: ScimSourceProvider): void {
  router.patch('/Groups/:id', (req, res, next) => handle(res, next, () => provider.patchGroup(req.params.id!, req.body)));
  // scimmy's routers apply it (read, patch, write)
  router.patch('/Users/:id', (req, res, next) => {
    provider.prepareUserPatch(req.params.id!, req.body).then(
      () => next(),
      (e: unknown) => (isScimError(e) ? sendError(res, e.status, e.message, e.scimType) : next(e)),
    );
  });
  router.get('/Users', (req, res, next) => handle(res, next, () => provider.list('User', req.query)));
  router.get('/Groups', (req, res, next) => handle(res, next, () => provider.list('Group', req.query)));
  router.get('/Users/:id', (req, res, next) => handle(res, next, () => provider.read('User', req.params.id!, req.query)));
  router.get('/Groups/:id', (req, res, next) => handle(res, next, () => provider.read('Group', req.params.id!, req.query)));
  router.post('/.search', (req, res, next) => handle(res, next, () => provider.search(['User', 'Group'], req.body)));
  router.post('/Users/.search', (req, res, next) => handle(res, next, () => provider.search(['User'], req.body)));
  router.post('/Groups/.search', (req, res, next) => handle(res, next, () => provider.search(['Group'], req.body)));
}

/**
 * Routes each `scim-push` source's path to its SCIM service provider (src/sources/scim-push/):
 * authentication, body limits and error answers here; the provider answers listings, searches and
 * group PATCHes itself and scimmy's routers the rest (resources by id, POST, PUT, DELETE, schemas).
 */
export function mountScimPush(app: Express, deps: ScimPushDeps): FastRoute[] {
  const fast: FastRoute[] = [];
  const parseQuery = app.get('query parser fn') as (text: string) => Record<string, unknown>;
  for (const source of deps.sources) {
    const provider = scimPushProvider.open(deps.store, source, (groupIds) => deps.onChange(groupIds.map((g) => `${source.name}:${g}`)));
    fast.push(scimLookupRoute(source, provider, parseQuery, deps.logger, deps.onRequest));
    // a store another writer holds delays the start by this, not by busy_timeout per write
    deps.store.waitingAtMost(WARM_UP_WAIT_MS, () => warmUpLookups(provider, parseQuery, deps.logger, source.name));
    const router = express.Router();
    router.use((req, res, next) => {
      res.on('finish', () => deps.onRequest?.(req.method, res.statusCode));
      next();
    });
    router.use(authenticate(source, deps.logger));
    router.use(express.json({ type: ['application/scim+json', 'application/json'], limit: deps.maxBodyBytes }));
    router.use((req, res, next) => {
      try {
        scimPushProvider.prepareBody(req.body);
      } catch (e) {
        if (!isScimError(e)) throw e;
        sendError(res, e.status, e.message, e.scimType);
        return;
      }
      next();
    });
    providerRoutes(router, provider);
    router.use(
      new SCIMMYRouters({
        type: 'bearer',
        docUri: 'https://datatracker.ietf.org/doc/html/rfc6750',
        // authentication ran above, before the body was read
        handler: () => 'scim-push',
        context: () => provider.context,
      }) as unknown as express.Router,
    );
    router.use((err: Error & { status?: number; type?: string }, req: Request, res: Response, _next: NextFunction) => {
      if (err.type === 'entity.too.large') sendError(res, 413, `the request body is larger than ${deps.maxBodyBytes} bytes`, 'tooLarge');
      else if (err.type === 'entity.parse.failed') sendError(res, 400, `the request body is not valid JSON: ${err.message}`, 'invalidSyntax');
      // a path Express cannot decode is the client's mistake, as at the daemon's other routes
      else if (err instanceof URIError) sendError(res, 400, 'the request path cannot be read (a malformed %-escape)');
      // body-parser's other refusals (a charset or content encoding it cannot read, a body cut short): the client's mistake too
      else if (typeof err.type === 'string' && typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
        deps.logger.debug({ source: source.name, type: err.type, status: err.status }, 'SCIM push request body refused');
        sendError(res, err.status, err.message);
      } else {
        // a fault of the store or of convsync, which the provider answered 500 with its cause (resources.ts), or any other
        const cause = (err as { cause?: unknown }).cause ?? err;
        const code = (cause as { code?: unknown }).code;
        // the same failure of a request whose look-up before Express logged it is logged once; another is logged as any
        const again = loggedBeforeRoutes.get(req) === describeError(cause);
        const log = again ? deps.logger.debug.bind(deps.logger) : deps.logger.error.bind(deps.logger);
        // an Error whole, with its stack: a fault of convsync is found by it; 501 (bulk) is no fault
        if (err.status !== 501)
          log(
            { source: source.name, err: cause instanceof Error ? cause : describeError(cause), ...(typeof code === 'string' ? { code } : {}) },
            'SCIM push request failed',
          );
        // scimmy's routers answered already, and hand on what they answered 500
        const detail = err.status && err.status < 500 ? err.message : isBusy(cause) ? BUSY_DETAIL : 'internal error';
        if (!res.headersSent) sendError(res, err.status ?? 500, detail);
      }
    });
    app.use(source.path, router);
  }
  // after the routers: their constructor writes its own defaults (bulk on, sort on)
  SCIMMY.Config.set(scimPushProvider.serviceProviderConfig);
  if (deps.sources.length > 0) warmUpServiceProviderConfig(deps.logger);
  return fast;
}
