import type { ReadGroup, ReadUser } from '../../store/source-reads.js';
import type { SourceResult, SourceUser } from '../types.js';
import { desiredGroups, readMembers, report, type ScimContext } from './context.js';
import { listAll } from './listing.js';
import { parseGroup, parseUser, type ScimGroup } from './parse.js';
import { toReadGroup, toReadUser } from './read-state.js';

/** a read, and when it was whole, what the store keeps of it */
export interface ScimRead {
  result: SourceResult;
  whole?: {
    groups: ReadGroup[];
    users: ReadUser[];
    /** the listings' totalResults */
    totals: { groups: number; users: number };
    /** groups read by id as nested members, not listed */
    nestedOnly: number;
  };
}

/**
 * The full crawl: groups listed without members (complete only when what came matches
 * totalResults); users listed; each group's members read on its own; users resolved and nested
 * groups expanded. Anything that could not be read makes what it touches *unknown*, never gone.
 */
export async function crawl(ctx: ScimContext, maxResults: number, at: string): Promise<ScimRead> {
  const listing = await listGroups(ctx, Math.min(ctx.config.groups.pageSize, maxResults));
  const users = await listUsers(ctx, Math.min(ctx.config.users.pageSize, maxResults));
  const { groups } = listing;
  const listedNames = new Map([...groups.values()].map((g) => [g.id, g.displayName]));
  const reads = await readMembers(ctx, groups.values());
  // a group renamed between the listing and its read may have left (or entered) the filter, or moved
  // in the provider's order: pages shifted, and another group may have been skipped
  const renamed = [...groups.values()].filter((g) => !reads.failures.has(g.id) && !reads.vanished.has(g.id) && g.displayName !== listedNames.get(g.id));
  for (const g of renamed) {
    ctx.warnings.push(
      `source ${ctx.source}: group ${g.id} was listed as "${listedNames.get(g.id)}", then read as "${g.displayName}": renamed during the crawl, ` +
        'index-based paging may have skipped another group, so the listing counts as incomplete',
    );
  }

  // a group gone between the listing and its read may have shifted the pages: the listing can have
  // skipped another group, so the vanished one is left out and the listing does not count as whole
  for (const id of reads.vanished) {
    ctx.warnings.push(
      `source ${ctx.source}: group ${id} ("${groups.get(id)?.displayName}") was listed, then answered 404 when its members were read: ` +
        'it vanished during the crawl, and index-based paging may have skipped another group, so the listing counts as incomplete',
    );
    groups.delete(id);
  }
  const { groups: out, resolver } = await desiredGroups(ctx, groups, users.map, reads);
  const listingComplete = listing.complete && reads.vanished.size === 0 && renamed.length === 0;
  if (!listingComplete) {
    const counts = listing.total === undefined ? 'no page could be read' : `${listing.received} distinct group(s) received, totalResults ${listing.total}`;
    ctx.warnings.push(
      `source ${ctx.source}: the group listing was incomplete (${counts}); groups it did not list are unknown, not gone: none is unbound or emptied in this run`,
    );
    ctx.log.warn({ received: listing.received, totalResults: listing.total, vanished: [...reads.vanished] }, 'SCIM group listing incomplete');
  }
  const result = { source: ctx.source, groups: out, listingComplete, warnings: ctx.warnings };
  if (!listingComplete || !users.complete || out.some((g) => !g.complete) || listing.total === undefined || users.total === undefined) return { result };
  return {
    result,
    whole: {
      groups: [...[...groups.values()].map((g) => toReadGroup(g, at)), ...[...resolver.readNested.values()].map((g) => toReadGroup(g, at, true))],
      users: [...users.map.values()].map((u) => toReadUser(u, at)),
      totals: { groups: listing.total, users: users.total },
      nestedOnly: resolver.readNested.size,
    },
  };
}

async function listGroups(ctx: ScimContext, count: number) {
  const query = { excludedAttributes: 'members', filter: ctx.config.groups.filter };
  const listing = await listAll(ctx.client, { label: `source ${ctx.source}: /Groups`, path: '/Groups', count, query }, ctx.signal);
  report(ctx, listing.problems);
  const groups = new Map<string, ScimGroup>();
  let complete = listing.complete;
  for (const raw of listing.resources) {
    const g = parseGroup(ctx.source, raw, ctx.warnings);
    if (g) groups.set(g.id, g);
    else complete = false;
  }
  return { groups, complete, received: listing.received, total: listing.total };
}

async function listUsers(ctx: ScimContext, count: number): Promise<{ map: Map<string, SourceUser>; complete: boolean; total: number | undefined }> {
  const listing = await listAll(ctx.client, { label: `source ${ctx.source}: /Users`, path: '/Users', count, query: {} }, ctx.signal);
  report(ctx, listing.problems);
  const map = new Map<string, SourceUser>();
  let complete = listing.complete;
  for (const raw of listing.resources) {
    const u = parseUser(ctx.source, raw, ctx.warnings);
    if (u) map.set(u.id, u);
    else complete = false;
  }
  // members the listing missed are read one by one (MemberResolver), so groups stay exact
  if (!listing.complete) ctx.warnings.push(`source ${ctx.source}: the user listing was incomplete; missing members are read one by one`);
  return { map, complete, total: listing.total };
}
