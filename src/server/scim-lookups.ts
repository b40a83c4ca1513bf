import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ScimPushSourceConfig } from '../config/schema.js';
import { readSecret } from '../config/secrets.js';
import { describeError } from '../errors.js';
import { isScimError } from '../sources/scim-push/errors.js';
import type { ListParams } from '../sources/scim-push/list.js';
import type { ScimSourceProvider } from '../sources/scim-push/provider.js';
import { bearerMatches } from './auth.js';

/** answers a request and says so, or leaves it untouched for the Express app */
export type FastRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

const RESOURCE = /^\/(Users|Groups)(?:\/([^/]+))?$/;
/** a target Express's URL parser reads as this route does: no fragment, space or character outside printable ASCII */
const PLAIN_TARGET = /^[\x21\x22\x24-\x7e]*$/;

/** what Express would look at beyond the path, query and token: a body (checked even on a GET) or a condition */
function hasMore(req: IncomingMessage): boolean {
  const h = req.headers;
  return h['content-length'] !== undefined || h['transfer-encoding'] !== undefined || h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined;
}

/** requests whose failure the look-up before Express logged, with what failed: the routes' answer to the same failure is not logged twice as an error */
export const loggedBeforeRoutes = new WeakMap<IncomingMessage, string>();

/**
 * The SCIM look-ups an IdP sends by the thousand (`GET /Users?filter=…`, `GET /Groups/{id}`),
 * answered before Express: its per-request objects outlive the young generation, and the
 * collections they cost stall every other request. Only a plain request that succeeds is answered
 * here; anything else (a bad token, a malformed filter, an unknown id, HEAD, a body, a conditional
 * GET, a target Express would read differently) goes to the Express routes, which answer it as
 * they always did.
 */
export function scimLookupRoute(
  source: ScimPushSourceConfig,
  provider: ScimSourceProvider,
  parseQuery: (text: string) => ListParams,
  logger: Logger,
  onRequest?: (method: string, status: number) => void,
): FastRoute {
  const prefix = source.path.replace(/\/+$/, '');
  return (req, res) => {
    if (req.method !== 'GET' || req.url === undefined || !PLAIN_TARGET.test(req.url) || hasMore(req)) return false;
    const q = req.url.indexOf('?');
    const path = q < 0 ? req.url : req.url.slice(0, q);
    if (!path.startsWith(`${prefix}/`)) return false;
    const m = RESOURCE.exec(path.slice(prefix.length));
    if (!m) return false;
    let id: string | undefined;
    try {
      id = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
    } catch {
      return false;
    }
    let token: string;
    try {
      token = readSecret(source, 'token');
    } catch {
      return false;
    }
    if (!bearerMatches(req.headers.authorization, token)) return false;
    const kind = m[1] === 'Users' ? 'User' : 'Group';
    const query = parseQuery(q < 0 ? '' : req.url.slice(q + 1));
    let body: string;
    try {
      const out = id === undefined ? provider.list(kind, query) : provider.read(kind, id, query);
      if (out.status !== 200 || typeof out.body !== 'string') return false;
      body = out.body;
    } catch (e) {
      // Express reads it again and answers the error; one that does not come back is still on record
      if (!isScimError(e)) {
        // an Error whole, with its stack and code: the routes' line for the same failure goes to debug
        const code = (e as { code?: unknown }).code;
        logger.error(
          { source: source.name, err: e instanceof Error ? e : describeError(e), ...(typeof code === 'string' ? { code } : {}) },
          'SCIM push look-up failed; answered by the routes',
        );
        loggedBeforeRoutes.set(req, describeError(e));
      }
      return false;
    }
    res.writeHead(200, { 'content-type': 'application/scim+json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    onRequest?.('GET', 200);
    return true;
  };
}
