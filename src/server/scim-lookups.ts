import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ScimPushSourceConfig } from '../config/schema.js';
import { readSecret } from '../config/secrets.js';
import type { ListParams } from '../sources/scim-push/list.js';
import type { ScimSourceProvider } from '../sources/scim-push/provider.js';
import { bearerMatches } from './auth.js';

/** answers a request and says so, or leaves it untouched for the Express app */
export type FastRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

const RESOURCE = /^\/(Users|Groups)(?:\/([^/]+))?$/;

/**
 * The SCIM look-ups an IdP sends by the thousand (`GET /Users?filter=…`, `GET /Groups/{id}`),
 * answered before Express: its per-request objects outlive the young generation, and the
 * collections they cost stall every other request. Only a request that succeeds is answered here;
 * anything else (a bad token, a malformed filter, an unknown id, HEAD, a path Express would match
 * differently) goes to the Express routes, which answer it as they always did.
 */
export function scimLookupRoute(
  source: ScimPushSourceConfig,
  provider: ScimSourceProvider,
  parseQuery: (text: string) => ListParams,
  onRequest?: (method: string, status: number) => void,
): FastRoute {
  const prefix = source.path.replace(/\/+$/, '');
  return (req, res) => {
    if (req.method !== 'GET' || req.url === undefined) return false;
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
    let body: unknown;
    try {
      const out = id === undefined ? provider.list(kind, query) : provider.read(kind, id, query);
      if (out.status !== 200 || typeof out.body !== 'string') return false;
      body = out.body;
    } catch {
      return false;
    }
    res.writeHead(200, { 'content-type': 'application/scim+json; charset=utf-8', 'content-length': Buffer.byteLength(body as string) });
    res.end(body);
    onRequest?.('GET', 200);
    return true;
  };
}
