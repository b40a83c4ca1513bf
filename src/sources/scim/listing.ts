import { AuthError, PermanentError, describeError } from '../../errors.js';
import type { ScimClient } from './client.js';

export interface Listing {
  /** distinct resources (by id), in the order first received */
  resources: Record<string, unknown>[];
  /** distinct resources received, those without an id counted one each */
  received: number;
  /** totalResults of the last page read; undefined when no page could be read */
  total: number | undefined;
  /**
   * true only when every page was read, totalResults never changed between pages, and the distinct
   * resources received are exactly totalResults: anything else may have skipped a resource
   */
  complete: boolean;
  /** why it is incomplete, each naming the page (startIndex) and the counts */
  problems: string[];
}

export interface ListRequest {
  /** e.g. "source corp: /Groups", the start of every problem */
  label: string;
  path: string;
  count: number;
  query: Record<string, string | undefined>;
}

interface ListPage {
  resources: Record<string, unknown>[];
  total: number;
}

/**
 * Every page of a SCIM list (RFC 7644 §3.4.2.4). Paging is by index and not stateful, so a change
 * during the crawl shifts pages: what was received is counted against totalResults rather than
 * trusted. Pages advance by what they held (a provider may return fewer than `count`); an empty
 * page ends the listing. A page that cannot be read is stepped over so the rest is still read.
 */
export async function listAll(client: ScimClient, req: ListRequest, signal: AbortSignal): Promise<Listing> {
  const resources: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  let withoutId = 0;
  const problems: string[] = [];
  let total: number | undefined;
  let startIndex = 1;
  // the most a page held, to step over a failed page by the provider's own page size
  let pageSize = 0;
  let lastPage = 0;
  const received = () => seen.size + withoutId;

  while (total === undefined || startIndex <= total) {
    let page: ListPage;
    try {
      page = parseListPage(await client.get(req.path, { ...req.query, startIndex, count: req.count }, signal), req.path);
    } catch (e) {
      if (e instanceof AuthError) throw e;
      problems.push(`${req.label} page at startIndex ${startIndex} failed: ${describeError(e)}`);
      if (total === undefined) break;
      startIndex += pageSize > 0 ? pageSize : req.count;
      continue;
    }
    if (total !== undefined && page.total !== total) {
      problems.push(
        `${req.label} totalResults changed from ${total} to ${page.total} at the page at startIndex ${startIndex}: the directory changed during the crawl, so pages shifted`,
      );
    }
    total = page.total;
    if (page.resources.length === 0) {
      if (startIndex <= total) {
        problems.push(
          `${req.label} page at startIndex ${startIndex} came back empty with totalResults ${total} (${received()} received so far): a failed read, not fewer resources`,
        );
      }
      break;
    }
    for (const r of page.resources) {
      // a shifting listing may repeat a resource on the next page: it counts once
      const id = typeof r.id === 'string' && r.id !== '' ? r.id : undefined;
      if (id === undefined) withoutId++;
      else if (seen.has(id)) continue;
      else seen.add(id);
      resources.push(r);
    }
    pageSize = Math.max(pageSize, page.resources.length);
    lastPage = page.resources.length;
    startIndex += page.resources.length;
  }

  // a provider outside RFC 7644 §3.4.2 may give as totalResults what one page holds: when the last
  // page was a full one, the page after the total must hold nothing new, or the listing stopped short
  if (total !== undefined && total > 0 && problems.length === 0 && received() === total && lastPage >= pageSize) {
    try {
      const body = await client.get(req.path, { ...req.query, startIndex, count: req.count }, signal);
      const more = (body === undefined ? [] : parseListPage(body, req.path).resources).filter((r) => !(typeof r.id === 'string' && seen.has(r.id))).length;
      if (more > 0)
        problems.push(
          `${req.label} the page at startIndex ${startIndex}, past totalResults ${total}, held ${more} more resource(s): totalResults cannot be trusted`,
        );
    } catch (e) {
      if (e instanceof AuthError) throw e;
      // a provider may refuse a page past the end (4xx, 404 above): that says nothing follows
      if (!(e instanceof PermanentError && e.status !== undefined && e.status >= 400 && e.status < 500))
        problems.push(`${req.label} page at startIndex ${startIndex}, past totalResults ${total}, failed: ${describeError(e)}`);
    }
  }

  if (total !== undefined && received() !== total) {
    problems.push(`${req.label} listing received ${received()} distinct resource(s) of totalResults ${total}`);
  }
  return { resources, received: received(), total, complete: problems.length === 0, problems };
}

/**
 * A ListResponse read as it came. Not through scimmy's ListResponse: made for lists it sends, it
 * also pages what it is given (slices by startIndex, cuts to itemsPerPage), dropping items of a
 * page it receives.
 */
export function parseListPage(body: unknown, path: string): ListPage {
  if (body === undefined) throw new Error(`${path} answered 404`);
  const list = (typeof body === 'object' && body !== null ? body : {}) as { schemas?: unknown; Resources?: unknown; totalResults?: unknown };
  const listSchema = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
  // providers differ: schemas checked when given, totalResults also taken as a string of digits
  if (Array.isArray(list.schemas) && (list.schemas.length !== 1 || list.schemas[0] !== listSchema)) {
    throw new Error(`${path}: not a SCIM ListResponse (schemas must be exactly ["${listSchema}"])`);
  }
  const total = typeof list.totalResults === 'string' && /^\d+$/.test(list.totalResults) ? Number(list.totalResults) : list.totalResults;
  if (typeof total !== 'number' || !Number.isInteger(total) || total < 0) {
    throw new Error(`${path}: not a SCIM ListResponse (totalResults must be a non-negative integer, not ${JSON.stringify(list.totalResults)})`);
  }
  if (list.Resources !== undefined && !Array.isArray(list.Resources)) {
    throw new Error(`${path}: not a SCIM ListResponse (Resources must be an array)`);
  }
  const resources = (list.Resources ?? []) as unknown[];
  if (resources.some((r) => typeof r !== 'object' || r === null || Array.isArray(r))) {
    throw new Error(`${path}: not a SCIM ListResponse (every one of Resources must be an object)`);
  }
  return { resources: resources as Record<string, unknown>[], total };
}
