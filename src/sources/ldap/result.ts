import type { LdapSourceConfig } from '../../config/ldap-schema.js';
import type { SourceResult, SourceUser } from '../types.js';
import { expandDirectory, type ReadGroup } from './nested.js';
import { resolveOutside } from './outside.js';
import type { SearchContext } from './paged-search.js';
import { userIndexes, type DirectoryRead } from './stored.js';
import type { UserWithoutId } from './users.js';

/** a read of the directory, whole or merged from what changed, before expansion */
export interface ListingRead {
  directory: DirectoryRead;
  /** DNs of groups left out for want of an id: the listing is not whole */
  groupsWithoutId: string[];
  /** DNs of groups left out for an id another group has: the listing is not whole either */
  duplicateIds: string[];
  /** users left out for want of an id */
  usersWithoutId: UserWithoutId[];
  /** the latest modifyTimestamp seen (epoch ms), where the server has them */
  highestStamp?: number;
  warnings: string[];
}

/** member entries outside both listings, as reading them finds them (memberUid groups name no entries) */
export async function outsideOf(
  ctx: SearchContext,
  config: LdapSourceConfig,
  directory: Pick<DirectoryRead, 'groups' | 'users'>,
  withoutId: readonly UserWithoutId[],
  known?: DirectoryRead['outside'],
): Promise<DirectoryRead['outside']> {
  if (config.groups.memberAttribute === 'memberUid') return new Map();
  const { byDn } = userIndexes(directory.users.values());
  const noId = keysOf(withoutId);
  return resolveOutside(ctx, {
    groups: [...directory.groups.values()],
    // a user without an id is no entry to read: expansion takes the group it is in as unknown
    isUser: (k) => byDn.has(k) || noId.has(k),
    memberAttribute: config.groups.memberAttribute,
    expandNested: config.expandNested,
    concurrency: config.concurrency,
    known,
  });
}

/**
 * Whether a read may be stored as the directory: every group has its id and its members, and every
 * member entry outside the listings could be read. A read that is not whole is used for this run
 * (its unknown groups frozen) and never stored: the cursor stays where it was.
 */
export function isWhole(read: ListingRead): boolean {
  if (read.groupsWithoutId.length > 0 || read.duplicateIds.length > 0) return false;
  for (const g of read.directory.groups.values()) if (g.failure !== undefined) return false;
  for (const o of read.directory.outside.values()) if (o.kind === 'failed') return false;
  return true;
}

export function usersById(users: Iterable<SourceUser>): Map<string, SourceUser> {
  return new Map([...users].map((u) => [u.id, u]));
}

/**
 * Groups by id. Two entries with one id (an idAttribute that is not unique, such as cn across
 * OUs) cannot both be a group: the second is left out and the listing counts as incomplete.
 */
export function groupsById(
  groups: readonly ReadGroup[],
  into: Map<string, ReadGroup>,
  read: Pick<ListingRead, 'duplicateIds' | 'warnings'>,
): Map<string, ReadGroup> {
  const fresh = new Set<string>();
  for (const g of groups) {
    if (fresh.has(g.id)) {
      read.warnings.push(`group ${g.dn} has the id ${g.id} of another group: left out, and the listing counts as incomplete; make groups.idAttribute unique`);
      read.duplicateIds.push(g.dn);
      // which of the two is the group is unknown: the one kept is no group to remove anyone from either
      const kept = into.get(g.id)!;
      into.set(g.id, { ...kept, members: [], failure: kept.failure ?? `its id ${g.id} is also the id of ${g.dn}` });
      continue;
    }
    fresh.add(g.id);
    into.set(g.id, g);
  }
  return into;
}

/** the read as desired groups in id order: nested groups expanded, what is left out said */
export function resultOf(source: string, config: LdapSourceConfig, read: ListingRead): SourceResult {
  const { byDn, byUid } = userIndexes(read.directory.users.values());
  const expanded = expandDirectory({
    source,
    groups: [...read.directory.groups.values()],
    usersByDn: byDn,
    usersByUid: byUid,
    outside: read.directory.outside,
    withoutId: keysOf(read.usersWithoutId),
    byUid: config.groups.memberAttribute === 'memberUid',
    expandNested: config.expandNested,
  });
  const warnings = [...read.warnings, ...expanded.warnings];
  const { usersWithoutId, groupsWithoutId } = read;
  if (usersWithoutId.length > 0) {
    warnings.push(
      `source ${source}: ${usersWithoutId.length} user(s) have no ${config.users.idAttribute} (${usersWithoutId
        .slice(0, 3)
        .map((u) => u.dn)
        .join('; ')}): the groups listing them are unknown, their removals frozen`,
    );
  }
  const listingComplete = groupsWithoutId.length === 0 && read.duplicateIds.length === 0;
  if (groupsWithoutId.length > 0) {
    warnings.push(
      `source ${source}: ${groupsWithoutId.length} group(s) have no ${config.groups.idAttribute} (${groupsWithoutId.slice(0, 3).join('; ')}); ` +
        'the listing counts as incomplete, so no group of this source is unbound in this run',
    );
  }
  const groups = expanded.groups.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { source, groups, listingComplete, warnings };
}

function keysOf(users: readonly UserWithoutId[]): Set<string> {
  return new Set(users.flatMap((u) => u.keys));
}
