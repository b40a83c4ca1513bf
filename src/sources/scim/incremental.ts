import { durationMs } from '../../config/schema.js';
import { PermanentError } from '../../errors.js';
import type { ReadChanges, ReadGroup } from '../../store/source-reads.js';
import type { SourceUser } from '../types.js';
import { desiredGroups, readMembers, report, type ScimContext } from './context.js';
import type { ScimRead } from './crawl.js';
import { listAll, type ListRequest } from './listing.js';
import { lastModifiedOf, parseGroup, parseUser, type ScimGroup } from './parse.js';
import { totalOf } from './probe.js';
import {
  both,
  changedSince,
  fromReadGroup,
  fromReadUsers,
  isNestedOnly,
  sameGroup,
  sameUser,
  toReadGroup,
  toReadUser,
  unchangedSince,
  type ScimCursor,
} from './read-state.js';

/** an incremental read: the changes to store (when all was read), and the provider's totals for the next cursor */
export interface ScimChanges extends ScimRead {
  changes?: ReadChanges;
  totals: { groups: number; users: number; nestedOnly: number };
}

interface Merge {
  listed: Map<string, ScimGroup>;
  nestedOnly: Map<string, ScimGroup>;
  users: Map<string, SourceUser>;
  /** listed groups whose members are read in this run */
  toRead: Map<string, ScimGroup>;
  deletedGroups: string[];
  deletedUsers: string[];
  changedUsers: SourceUser[];
  /** changed users the stored read did not have */
  newUsers: number;
  /** unlisted nested groups changed since: read again when a group names them */
  staleNested: string[];
}

/**
 * What changed since the stored read, merged into it: groups modified since the cursor (less the
 * overlap) read whole, users modified since read again, and deletions found where a total moved
 * (a listing of ids then says which). The result is the whole directory, as a full crawl would
 * give it. A listing that cannot be read whole fails the read, as a failed full crawl does: never
 * fewer groups, never a removal.
 */
export async function readChanges(
  ctx: ScimContext,
  cursor: ScimCursor,
  stored: { groups: ReadGroup[]; users: Map<string, string> },
  opts: { maxResults: number; at: string },
): Promise<ScimChanges> {
  const since = changedSince(ctx.config, cursor);
  const filter = ctx.config.groups.filter;
  const count = Math.min(ctx.config.groups.pageSize, opts.maxResults);
  const userCount = Math.min(ctx.config.users.pageSize, opts.maxResults);
  const changedGroups = await changedResources(ctx, {
    label: `source ${ctx.source}: /Groups changed`,
    path: '/Groups',
    count,
    query: { excludedAttributes: 'members', filter: both(filter, since) },
  });
  const changedUsers = await changedResources(ctx, {
    label: `source ${ctx.source}: /Users changed`,
    path: '/Users',
    count: userCount,
    query: { filter: since },
  });
  const totals = { groups: await totalOf(ctx.client, '/Groups', filter, ctx.signal), users: await totalOf(ctx.client, '/Users', undefined, ctx.signal) };

  const merge = mergeStored(ctx, stored, changedGroups, changedUsers);
  await findDeletions(ctx, merge, totals, cursor, { groups: count, users: userCount });
  // listed as changed, then gone from the listing of ids: deleted during this read, which shifts
  // index-based pages, so the listing of what changed may have skipped another changed resource
  const listedGroups = new Set(changedGroups.map((r) => r.id));
  const listedUsers = new Set(changedUsers.map((r) => r.id));
  const listedThenGone = [...merge.deletedGroups.filter((id) => listedGroups.has(id)), ...merge.deletedUsers.filter((id) => listedUsers.has(id))];
  if (listedThenGone.length > 0)
    fail(ctx, `${listedThenGone.join(', ')} listed as changed, then deleted during the read: the listing of what changed may have skipped another`);
  if (filter !== undefined && merge.nestedOnly.size > 0) await refreshNestedOnly(ctx, merge, new Map(stored.groups.map((g) => [g.id, g])), since, count);
  const reads = await readMembers(ctx, merge.toRead.values());
  if (reads.vanished.size > 0)
    fail(ctx, `group(s) ${[...reads.vanished].join(', ')} changed, then answered 404 when read: the directory is changing under the read`);

  const { groups, resolver } = await desiredGroups(ctx, merge.listed, merge.users, reads, merge.nestedOnly);
  const result = { source: ctx.source, groups, listingComplete: true, warnings: ctx.warnings };
  const out = { result, totals: { ...totals, nestedOnly: merge.nestedOnly.size + resolver.readNested.size } };
  if (groups.some((g) => !g.complete)) return out;
  const storedGroups = new Map(stored.groups.map((g) => [g.id, g]));
  // listed again by the overlap, read, and found as stored: no change
  const differs = (nestedOnly: boolean) => (g: ScimGroup) => {
    const kept = storedGroups.get(g.id);
    return !kept || isNestedOnly(kept.data) !== nestedOnly || !sameGroup(kept, g);
  };
  const changes: ReadChanges = {
    groups: [
      ...[...merge.toRead.values()].filter(differs(false)).map((g) => toReadGroup(g, opts.at)),
      ...[...resolver.readNested.values()].filter(differs(true)).map((g) => toReadGroup(g, opts.at, true)),
    ],
    deletedGroups: [...merge.deletedGroups, ...merge.staleNested.filter((id) => !resolver.readNested.has(id))],
    users: [...merge.changedUsers, ...resolver.readUsers.values()].map((u) => toReadUser(u, opts.at)),
    deletedUsers: merge.deletedUsers,
  };
  return { ...out, changes };
}

/** a listing of what changed: its totalResults asked first, so that nothing changed costs one short request */
async function changedResources(ctx: ScimContext, req: ListRequest): Promise<Record<string, unknown>[]> {
  if ((await totalOf(ctx.client, req.path as '/Groups' | '/Users', req.query.filter, ctx.signal)) === 0) return [];
  const listing = await listAll(ctx.client, req, ctx.signal);
  if (!listing.complete) {
    report(ctx, listing.problems);
    fail(ctx, `the listing of what changed could not be read whole (${listing.problems[0] ?? 'incomplete'})`);
  }
  return listing.resources;
}

/** the stored read with the changes in it; a resource listed again only by the overlap is kept as stored */
function mergeStored(
  ctx: ScimContext,
  stored: { groups: ReadGroup[]; users: Map<string, string> },
  changedGroups: Record<string, unknown>[],
  changedUsers: Record<string, unknown>[],
): Merge {
  const overlapMs = durationMs(ctx.config.lastModifiedOverlap);
  const listed = new Map<string, ScimGroup>();
  const nestedOnly = new Map<string, ScimGroup>();
  const storedGroups = new Map(stored.groups.map((r) => [r.id, r]));
  for (const r of stored.groups) {
    const { group, nestedOnly: unlisted } = fromReadGroup(r);
    (unlisted ? nestedOnly : listed).set(r.id, group);
  }
  const users = fromReadUsers(stored.users);
  const merge: Merge = { listed, nestedOnly, users, toRead: new Map(), deletedGroups: [], deletedUsers: [], changedUsers: [], newUsers: 0, staleNested: [] };
  for (const raw of changedGroups) {
    const g = parseGroup(ctx.source, raw, ctx.warnings);
    if (!g) fail(ctx, 'a changed group was not a valid SCIM Group');
    const kept = storedGroups.get(g.id);
    if (listed.has(g.id) && kept?.displayName === g.displayName && unchangedSince(kept.data, g.lastModified, overlapMs)) continue;
    listed.set(g.id, g);
    nestedOnly.delete(g.id);
    merge.toRead.set(g.id, g);
  }
  for (const raw of changedUsers) {
    const u = parseUser(ctx.source, raw, ctx.warnings);
    if (!u) fail(ctx, 'a changed user was not a valid SCIM User');
    const kept = stored.users.get(u.id);
    if (kept !== undefined && sameUser(kept, raw)) continue;
    merge.changedUsers.push(u);
    if (!users.has(u.id)) merge.newUsers++;
    users.set(u.id, u);
  }
  return merge;
}

/**
 * A total that is not what the stored read and the changes add up to: groups or users were
 * deleted (or made with an older meta.lastModified). A listing of ids says which.
 */
async function findDeletions(
  ctx: ScimContext,
  merge: Merge,
  totals: { groups: number; users: number },
  cursor: ScimCursor,
  count: { groups: number; users: number },
): Promise<void> {
  if (merge.listed.size !== totals.groups) {
    const ids = await listIds(ctx, '/Groups', ctx.config.groups.filter, count.groups);
    for (const id of [...merge.listed.keys()]) {
      if (ids.has(id)) continue;
      // index-based paging shifts when a group is deleted and another made between pages (the total
      // unchanged): a live group can be skipped. Asked for by id before it is taken as gone; one still
      // there is kept (a provider that ignores the filter leaves deletions to the next full read)
      if (await stillListed(ctx, id)) continue;
      merge.listed.delete(id);
      merge.toRead.delete(id);
      merge.deletedGroups.push(id);
    }
    // listed, yet not among the changes (made with an older meta.lastModified): read like a changed group
    for (const id of ids) {
      if (merge.listed.has(id)) continue;
      const g: ScimGroup = { id, displayName: id };
      merge.listed.set(id, g);
      merge.toRead.set(id, g);
    }
  }
  // users made with an older meta.lastModified are read when a group names them; fewer users than
  // the last read and the changes add up to were deleted
  if (totals.users < cursor.users + merge.newUsers) {
    const ids = await listIds(ctx, '/Users', undefined, count.users);
    for (const id of [...merge.users.keys()]) {
      if (ids.has(id)) continue;
      merge.users.delete(id);
      merge.deletedUsers.push(id);
    }
  }
}

/** whether a group the listing of ids left out is still listed when asked for by id (within the group filter: renamed out of it is gone) */
async function stillListed(ctx: ScimContext, id: string): Promise<boolean> {
  return (await totalOf(ctx.client, '/Groups', both(ctx.config.groups.filter, `id eq ${JSON.stringify(id)}`), ctx.signal)) !== 0;
}

async function listIds(ctx: ScimContext, path: '/Groups' | '/Users', filter: string | undefined, count: number): Promise<Set<string>> {
  const listing = await listAll(ctx.client, { label: `source ${ctx.source}: ${path} ids`, path, count, query: { attributes: 'id', filter } }, ctx.signal);
  if (!listing.complete) {
    report(ctx, listing.problems);
    fail(ctx, `a total changed and the listing of ${path} ids that says what was deleted could not be read whole`);
  }
  const ids = listing.resources.map((r) => r.id);
  // an entry without an id counted toward the total: taking the listing whole would take a group or user it stood for as deleted
  if (ids.some((id) => typeof id !== 'string' || id === '')) fail(ctx, `the listing of ${path} ids holds an entry without an id`);
  return new Set(ids as string[]);
}

/** nested groups outside the group filter are not in its listing of changes: asked for apart */
async function refreshNestedOnly(ctx: ScimContext, merge: Merge, stored: Map<string, ReadGroup>, since: string, count: number): Promise<void> {
  if ((await totalOf(ctx.client, '/Groups', since, ctx.signal)) === 0) return;
  const listing = await listAll(
    ctx.client,
    { label: `source ${ctx.source}: /Groups changed (nested)`, path: '/Groups', count, query: { attributes: 'meta', filter: since } },
    ctx.signal,
  );
  if (!listing.complete) fail(ctx, 'the listing of changed nested groups could not be read whole');
  const overlapMs = durationMs(ctx.config.lastModifiedOverlap);
  merge.staleNested = listing.resources
    .filter((r) => typeof r.id === 'string' && merge.nestedOnly.has(r.id) && !unchangedSince(stored.get(r.id)?.data, lastModifiedOf(r), overlapMs))
    .map((r) => r.id as string);
  // dropped from what is known: the resolver reads each again, by id, when a group names it
  for (const id of merge.staleNested) merge.nestedOnly.delete(id);
}

function fail(ctx: ScimContext, why: string): never {
  throw new PermanentError(`incremental read failed: ${why}; nothing is taken as changed or gone in this run`, {
    origin: `scim:${ctx.source}`,
    label: 'incremental-read',
  });
}
