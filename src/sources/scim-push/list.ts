import SCIMMY from 'scimmy';
import type { PushGroup, PushUser, StoredAnswer } from '../../store/push.js';
import type { PushContext } from './context.js';
import { isScimError, scimError } from './errors.js';
import { planFilter, parseFilter, type FilterBranch, type IndexedAttribute } from './filter.js';
import { answerOf, groupOut, userOut, viewOf, wholeAnswer, type ResourceKind, type View } from './format.js';

export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
/** the largest page (advertised as filter.maxResults): a page is built in one turn of the event loop */
export const MAX_RESULTS = 200;
/** scimmy's page size when a request names none */
const DEFAULT_COUNT = 20;

export interface ListParams {
  filter?: unknown;
  startIndex?: unknown;
  count?: unknown;
  attributes?: unknown;
  excludedAttributes?: unknown;
}

type Row = PushUser | PushGroup;

/** the resources a request selects: how many, and one page of them read on demand */
export interface Selection {
  total: number;
  page(offset: number, limit: number): Row[];
  /** a page as stored answers, without reading the rows (a listing of every resource) */
  answers?(offset: number, limit: number): StoredAnswer[];
}

function lookup(ctx: PushContext, kind: ResourceKind, attribute: IndexedAttribute, value: string): Row[] {
  const { store, source } = ctx;
  const one = <T>(r: T | undefined) => (r ? [r] : []);
  if (kind === 'User') {
    if (attribute === 'userName') return one(store.push.userByName(source, value));
    if (attribute === 'id') return one(store.push.user(source, value));
    if (attribute === 'externalId') return store.push.usersByExternalId(source, value);
    if (attribute === 'emails.value') return store.push.usersByEmail(source, value);
  } else {
    if (attribute === 'displayName') return store.push.groupsByName(source, value);
    if (attribute === 'id') return one(store.push.group(source, value));
    if (attribute === 'externalId') return store.push.groupsByExternalId(source, value);
    if (attribute === 'members.value') return store.push.groupsWithMember(source, value);
  }
  return [];
}

/** the rows a branch's look-up found that the whole branch matches (members by index, the rest by scimmy) */
function branchMatches(ctx: PushContext, kind: ResourceKind, branch: FilterBranch): Row[] {
  return lookup(ctx, kind, branch.lookup.attribute, branch.lookup.value).filter(
    (row) =>
      branch.members.every((m) => ctx.store.push.hasMember(ctx.source, row.id, m)) &&
      (!branch.rest || branch.rest.match([kind === 'User' ? userOut(row as PushUser) : groupOut(ctx, row as PushGroup, false)]).length === 1),
  );
}

/** every resource of a kind, or those a filter matches; never more rows read than a page or the look-ups find */
export function select(ctx: PushContext, kind: ResourceKind, filter: SCIMMY.Types.Filter | undefined): Selection {
  const push = ctx.store.push;
  if (!filter) {
    const answers = (offset: number, limit: number) => push.answerPage(ctx.source, kind, offset, limit);
    return kind === 'User'
      ? { total: push.userCount(ctx.source), page: (offset, limit) => push.userPage(ctx.source, offset, limit), answers }
      : { total: push.groupCount(ctx.source), page: (offset, limit) => push.groupPage(ctx.source, offset, limit), answers };
  }
  const found = new Map<string, Row>();
  for (const branch of planFilter(kind, filter)) for (const row of branchMatches(ctx, kind, branch)) found.set(row.id, row);
  // in id order, as a full listing is
  const rows = [...found.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { total: rows.length, page: (offset, limit) => rows.slice(offset, offset + limit) };
}

/** startIndex (1-based, at least 1) and count (0 to MAX_RESULTS), as scimmy reads them from a query */
export function paging(params: ListParams): { startIndex: number; count: number } {
  const int = (v: unknown) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
    return Number.isInteger(n) ? n : undefined;
  };
  return { startIndex: Math.max(int(params.startIndex) ?? 1, 1), count: Math.min(Math.max(int(params.count) ?? DEFAULT_COUNT, 0), MAX_RESULTS) };
}

/** a ListResponse (RFC 7644 §3.4.2) as JSON text around resources that are JSON text already */
function listResponse(total: number, startIndex: number, resources: string[]): string {
  const head = JSON.stringify({ schemas: [LIST_SCHEMA], totalResults: total, startIndex, itemsPerPage: resources.length });
  return `${head.slice(0, -1)},"Resources":[${resources.join(',')}]}`;
}

interface Part {
  kind: ResourceKind;
  selection: Selection;
}

/** one page over the selections one after the other (a search over Users and Groups) */
function pageOver(ctx: PushContext, parts: Part[], params: ListParams): string {
  const { startIndex, count } = paging(params);
  const views = new Map(parts.map((p) => [p.kind, viewOf(p.kind, params)]));
  let offset = startIndex - 1;
  const out: string[] = [];
  for (const { kind, selection } of parts) {
    if (out.length < count && offset < selection.total) out.push(...pageOf(ctx, kind, selection, views.get(kind)!, offset, count - out.length));
    offset = Math.max(0, offset - selection.total);
  }
  return listResponse(
    parts.reduce((n, p) => n + p.selection.total, 0),
    startIndex,
    out,
  );
}

/** a selection's resources `offset` to `offset + limit`, answered: a listing of whole resources from their stored answers alone */
function pageOf(ctx: PushContext, kind: ResourceKind, selection: Selection, view: View, offset: number, limit: number): string[] {
  if (view.whole && selection.answers)
    return selection.answers(offset, limit).map(({ id, json }) => (json === null ? answerOfId(ctx, kind, id, view) : wholeAnswer(ctx, kind, id, json, view)));
  const rows = selection.page(offset, limit);
  // one query for the page's stored answers, not one per resource
  const stored =
    view.whole && rows.length > 1
      ? ctx.store.push.rendered.many(
          ctx.source,
          kind,
          rows.map((r) => r.id),
        )
      : undefined;
  return rows.map((row) => answerOf(ctx, kind, row, view, stored?.get(row.id)));
}

/** the answer of a resource listed without its stored answer: rendered (and stored) now */
function answerOfId(ctx: PushContext, kind: ResourceKind, id: string, view: View): string {
  const row = kind === 'User' ? ctx.store.push.user(ctx.source, id) : ctx.store.push.group(ctx.source, id);
  if (!row) throw new Error(`${kind} ${id} was listed but cannot be read`);
  return answerOf(ctx, kind, row, view);
}

/**
 * `GET /Users/{id}` and `GET /Groups/{id}`: the stored answer (a group's members added only when
 * the request wants them), so Okta's GET before each PUT and Entra's reads cost no scimmy coercion.
 */
export function readResource(ctx: PushContext, kind: ResourceKind, id: string, params: ListParams): string {
  const view = viewOf(kind, params);
  const row = kind === 'User' ? ctx.store.push.user(ctx.source, id) : ctx.store.push.group(ctx.source, id);
  if (!row) throw scimError(404, null, `Resource ${id} not found`);
  return answerOf(ctx, kind, row, view);
}

/** `GET /Users` and `GET /Groups`: a page of a listing or of a filter's matches, as JSON text */
export function listResources(ctx: PushContext, kind: ResourceKind, params: ListParams): string {
  const filter = params.filter === undefined ? undefined : parseFilter(params.filter);
  return pageOver(ctx, [{ kind, selection: select(ctx, kind, filter) }], params);
}

/**
 * `POST /.search` (RFC 7644 §3.4.3) on one kind, or on both (`kinds` of two): a filter that names
 * attributes only one kind has is answered from that kind alone.
 */
export function searchResources(ctx: PushContext, kinds: ResourceKind[], body: unknown): string {
  const request = new SCIMMY.Messages.SearchRequest(body as never) as {
    filter?: string;
    attributes?: string[];
    excludedAttributes?: string[];
    startIndex?: number;
    count?: number;
  };
  const params: ListParams = {
    filter: request.filter,
    attributes: request.attributes?.join(','),
    excludedAttributes: request.excludedAttributes?.join(','),
    startIndex: request.startIndex,
    count: request.count,
  };
  const filter = params.filter === undefined ? undefined : parseFilter(params.filter);
  const parts: Part[] = [];
  let refused: unknown;
  for (const kind of kinds) {
    try {
      parts.push({ kind, selection: select(ctx, kind, filter) });
    } catch (e) {
      if (!isScimError(e) || kinds.length === 1) throw e;
      refused ??= e;
    }
  }
  if (parts.length === 0) throw refused;
  return pageOver(ctx, parts, params);
}
