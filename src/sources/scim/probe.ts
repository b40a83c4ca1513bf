import { durationMs } from '../../config/schema.js';
import { AuthError, PermanentError, SyncError } from '../../errors.js';
import type { SourceReads } from '../../store/source-reads.js';
import type { ScimClient } from './client.js';
import type { ScimContext } from './context.js';
import { parseListPage } from './listing.js';
import { readGroup } from './members.js';
import { lastModifiedOf } from './parse.js';
import {
  both,
  changedSince,
  isNestedOnly,
  lastModifiedAfter,
  sameGroup,
  sameUser,
  storedLastModified,
  unchangedSince,
  type LastModifiedSupport,
  type ScimCursor,
} from './read-state.js';

/** totalResults of a listing, read as one short page (`count=1`, ids only) */
export async function totalOf(client: ScimClient, path: '/Groups' | '/Users', filter: string | undefined, signal: AbortSignal): Promise<number> {
  return parseListPage(await client.get(path, { filter, attributes: 'id', startIndex: 1, count: 1 }, signal), path).total;
}

/** the provider said no to what it was asked (a 4xx, or 501 Not Implemented), as opposed to failing to answer */
export function refused(e: unknown): boolean {
  return !(e instanceof AuthError) && e instanceof SyncError && e.status !== undefined && (e instanceof PermanentError || e.status === 501);
}

/**
 * Whether the provider filters on meta.lastModified, asked of it: ServiceProviderConfig must not
 * deny filtering; a time in the far future must match nothing (a provider that ignores the filter
 * lists everything) and the epoch everything (every resource carries meta.lastModified), for
 * groups (with the configured filter) and users alike. `totals` are the listings' totalResults.
 */
export async function probeLastModified(
  ctx: ScimContext,
  filtering: boolean | undefined,
  totals: { groups: number; users: number },
): Promise<LastModifiedSupport> {
  if (filtering === false) return 'unsupported';
  const future = lastModifiedAfter('9999-12-31T23:59:59Z');
  const epoch = lastModifiedAfter('1970-01-01T00:00:00Z');
  try {
    for (const [path, filter, total] of [
      ['/Groups', ctx.config.groups.filter, totals.groups],
      ['/Users', undefined, totals.users],
    ] as const) {
      if ((await totalOf(ctx.client, path, both(filter, future), ctx.signal)) !== 0) return 'unsupported';
      if ((await totalOf(ctx.client, path, both(filter, epoch), ctx.signal)) !== total) return 'unsupported';
    }
    return 'supported';
  } catch (e) {
    if (e instanceof AuthError) throw e;
    // a refusal is an answer; anything else is asked again at the next read
    return refused(e) ? 'unsupported' : 'unknown';
  }
}

/**
 * Whether anything changed since the stored read, asked with short listings: groups and users
 * modified since (less the overlap) that are not as stored (a group the overlap lists again is
 * read and compared), and the totals, whose moving without a modified resource means a deletion.
 * Unlisted nested groups are asked for apart when a group filter leaves them out. More changes
 * than a page holds are a change.
 */
export async function anythingChanged(ctx: ScimContext, cursor: ScimCursor, reads: SourceReads): Promise<boolean> {
  const since = changedSince(ctx.config, cursor);
  const filter = ctx.config.groups.filter;
  const groups = await onePage(ctx, '/Groups', { filter: both(filter, since), excludedAttributes: 'members' });
  if (groups === undefined || (await groupsDiffer(ctx, groups, reads))) return true;
  const users = await onePage(ctx, '/Users', { filter: since });
  if (users === undefined) return true;
  const storedUsers = reads.someUsers(
    ctx.source,
    users.map((u) => String(u.id)),
  );
  if (users.some((u) => !storedUsers.has(String(u.id)) || !sameUser(storedUsers.get(String(u.id))!, u))) return true;
  if ((await totalOf(ctx.client, '/Groups', filter, ctx.signal)) !== cursor.groups) return true;
  if ((await totalOf(ctx.client, '/Users', undefined, ctx.signal)) !== cursor.users) return true;
  if (filter === undefined || cursor.nestedOnly === 0) return false;
  const all = await onePage(ctx, '/Groups', { filter: since, excludedAttributes: 'members' });
  return all === undefined || groupsDiffer(ctx, all, reads, isNestedOnly);
}

/** the first page of a listing, or undefined when there is more than a page */
async function onePage(ctx: ScimContext, path: '/Groups' | '/Users', query: Record<string, string>): Promise<Record<string, unknown>[] | undefined> {
  const count = path === '/Groups' ? ctx.config.groups.pageSize : ctx.config.users.pageSize;
  const page = parseListPage(await ctx.client.get(path, { ...query, startIndex: 1, count }, ctx.signal), path);
  return page.resources.length < page.total ? undefined : page.resources;
}

/** whether one of the listed groups (those `relevant` among the stored) is not as stored */
async function groupsDiffer(
  ctx: ScimContext,
  listed: Record<string, unknown>[],
  reads: SourceReads,
  relevant?: (data: string | undefined) => boolean,
): Promise<boolean> {
  const ids = listed.map((g) => String(g.id));
  const stored = reads.someGroups(ctx.source, ids);
  const overlapMs = durationMs(ctx.config.lastModifiedOverlap);
  for (const [i, raw] of listed.entries()) {
    const kept = stored.get(ids[i]!);
    if (relevant && !relevant(kept?.data)) continue;
    if (!kept) return true;
    const lastModified = lastModifiedOf(raw);
    if (kept.displayName === raw.displayName && unchangedSince(kept.data, lastModified, overlapMs)) continue;
    // modified since it was stored: a change (a touch that changed nothing costs one plan)
    if (lastModified === undefined || lastModified !== storedLastModified(kept.data)) return true;
    // listed again only by the overlap: compared
    const now = await readGroup(ctx.client, ctx.source, kept.id, ctx.signal, ctx.warnings);
    if (!now || !sameGroup(kept, now)) return true;
  }
  return false;
}
