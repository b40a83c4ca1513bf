import { FilterParser, PagedResultsControl, SearchRequest, StatusCodeParser, type Client, type Filter, type SearchEntry, type SearchResponse } from 'ldapts';
import { PermanentError } from '../../errors.js';
import type { LdapConnection } from './connection.js';
import type { LdapAttribute, LdapEntry } from './entry.js';
import { ldapError, resultCode } from './errors.js';

export interface SearchSpec {
  base: string;
  scope: 'base' | 'sub';
  filter: string;
  attributes: string[];
  /** says which search failed, in errors: `groups under ou=groups,…` */
  what: string;
}

/** what a read cost: requests sent, entries received */
export interface ReadStats {
  requests: number;
  entries: number;
}

export interface SearchContext {
  conn: LdapConnection;
  origin: string;
  pageSize: number;
  timeoutMs: number;
  stats: ReadStats;
  signal: AbortSignal;
}

/**
 * ldapts ends a paged search at the first page without entries, even when the server's cookie
 * says more follow, and does not hand back the controls of an answer. A paged read that must
 * know whether it is whole needs both, so it sends each page through the client's own request
 * path. Checked when used, and by test/sources/ldap-ad.test.ts (an empty page with a cookie).
 */
interface RequestPath {
  _nextMessageId(): number;
  _send(message: SearchRequest): Promise<SearchResponse | undefined>;
}

function requestPath(client: Client): RequestPath {
  const c = client as unknown as Partial<RequestPath>;
  if (typeof c._send !== 'function' || typeof c._nextMessageId !== 'function') {
    throw new Error('this ldapts version has no request path for paged searches (convsync needs ldapts 8.0.x)');
  }
  return { _send: c._send.bind(client), _nextMessageId: c._nextMessageId.bind(client) };
}

function parseFilter(spec: SearchSpec, origin: string): Filter {
  try {
    return FilterParser.parseString(spec.filter);
  } catch (e) {
    throw new PermanentError(`${spec.what}: the filter ${spec.filter} is not a valid LDAP filter (${(e as Error).message})`, {
      origin,
      label: 'invalid-filter',
    });
  }
}

/**
 * Every entry a search finds, read a page at a time (RFC 2696). The read is whole or it throws:
 * an error result (a size or time limit, a refused page), a continuation reference (a referral
 * convsync does not follow), a page without the paging control after the first, a lost connection.
 */
export async function pagedSearch(ctx: SearchContext, spec: SearchSpec): Promise<LdapEntry[]> {
  const path = requestPath(ctx.conn.client);
  const filter = parseFilter(spec, ctx.origin);
  const out: LdapEntry[] = [];
  let cookie: Buffer | undefined;
  for (let page = 1; ; page++) {
    ctx.signal.throwIfAborted();
    const paging = new PagedResultsControl({ value: { size: ctx.pageSize, ...(cookie ? { cookie } : {}) } });
    const res = await send(ctx, path, spec, filter, [paging], `${spec.what}, page ${page}`);
    for (const e of res.searchEntries) out.push(toEntry(e));
    ctx.stats.entries += res.searchEntries.length;
    const answer = res.controls?.find((c): c is PagedResultsControl => c instanceof PagedResultsControl);
    // a server that does not page answers the first request whole (or with sizeLimitExceeded)
    if (!answer) {
      if (page === 1) return out;
      throw new PermanentError(`${spec.what}, page ${page}: the answer carried no paged-results control, so the rest of the search is unknown`, {
        origin: ctx.origin,
        label: 'paging-lost',
      });
    }
    cookie = answer.value?.cookie;
    if (!cookie || cookie.length === 0) return out;
  }
}

/** one entry by its DN; undefined when it does not exist (or does not match `filter`) */
export async function readEntry(
  ctx: SearchContext,
  dn: string,
  attributes: string[],
  what: string,
  filter = '(objectClass=*)',
): Promise<LdapEntry | undefined> {
  const spec: SearchSpec = { base: dn, scope: 'base', filter, attributes, what };
  try {
    const res = await send(ctx, requestPath(ctx.conn.client), spec, parseFilter(spec, ctx.origin), [], what);
    ctx.stats.entries += res.searchEntries.length;
    return res.searchEntries[0] ? toEntry(res.searchEntries[0]) : undefined;
  } catch (e) {
    if ((e as PermanentError).label === 'noSuchObject') return undefined;
    throw e;
  }
}

async function send(
  ctx: SearchContext,
  path: RequestPath,
  spec: SearchSpec,
  filter: Filter,
  controls: PagedResultsControl[],
  what: string,
): Promise<SearchResponse> {
  const request = new SearchRequest({
    messageId: path._nextMessageId(),
    baseDN: spec.base,
    scope: spec.scope,
    filter,
    attributes: spec.attributes,
    // the server's own limit still applies; ours is the operation timeout
    timeLimit: Math.ceil(ctx.timeoutMs / 1000),
    sizeLimit: 0,
    controls,
  });
  ctx.stats.requests++;
  let res: SearchResponse | undefined;
  try {
    res = await path._send(request);
  } catch (e) {
    throw ldapError(e, ctx.origin, what);
  }
  if (!res) throw ldapError(new Error('the connection closed without an answer'), ctx.origin, what);
  if (res.status !== 0) {
    const err = StatusCodeParser.parse(res);
    throw ldapError(resultCode(err) === undefined ? Object.assign(err, { code: res.status }) : err, ctx.origin, what);
  }
  if (res.searchReferences.length > 0) {
    const uris = res.searchReferences.flatMap((r) => r.uris);
    throw new PermanentError(
      `${what}: the server answered with a referral to ${uris.slice(0, 3).join(', ')}, which convsync does not follow; point baseDn at entries this server holds (AD: the Global Catalog on port 3268)`,
      { origin: ctx.origin, label: 'referral' },
    );
  }
  return res;
}

function toEntry(e: SearchEntry): LdapEntry {
  const attrs = new Map<string, LdapAttribute>();
  for (const a of e.attributes) {
    // ldapts decoded the values already (bytes that are not UTF-8 stay Buffers there)
    const values = a.values.map((v) => (typeof v === 'string' ? v : v.toString('utf8')));
    attrs.set(a.type.toLowerCase(), { type: a.type, buffers: a.parsedBuffers, values });
  }
  return { dn: e.name, attrs };
}
