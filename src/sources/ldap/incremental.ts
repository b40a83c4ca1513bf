import type { LdapSourceConfig } from '../../config/ldap-schema.js';
import type { ReadChanges, ReadGroup as StoredGroup } from '../../store/source-reads.js';
import type { SourceUser } from '../types.js';
import type { LdapConnection } from './connection.js';
import { dnKey } from './entry.js';
import { changedFilter, nothingCommittedSince, stampAttributeOf, type LdapCursor } from './cursor.js';
import { readGroups, type ReadGroups } from './groups.js';
import { listIds, type IdListing } from './id-listing.js';
import type { Outside } from './nested.js';
import type { SearchContext } from './paged-search.js';
import { groupsById, outsideOf, type ListingRead } from './result.js';
import { outsideId, sameStoredGroup, toStoredGroup, toStoredOutside, toStoredUser, type DirectoryRead } from './stored.js';
import { readUsers, withoutIdUser, type ReadUsers, type UserWithoutId } from './users.js';

/** what an incremental read found: the directory merged with the changes, and those changes as the store takes them */
export interface ChangesRead {
  read: ListingRead;
  changes: ReadChanges;
  /** what the cursor queries returned, changed or not (the overlap lists again what changed just before) */
  listed: { groups: number; users: number };
}

/** what the cursor queries found: the id-only listings, and the groups and users changed since, read whole */
export interface Asked {
  groupIds: IdListing;
  userIds: IdListing;
  changedGroups: ReadGroups;
  changedUsers: ReadUsers;
  /**
   * users.disabledFilter: the ids of every disabled user. What disables a user need not touch its
   * modifyTimestamp (memberOf kept by the memberof or dynlist overlay), so it is asked of all.
   */
  disabledIds?: Set<string>;
}

/**
 * The id-only listings of groups and users (what is no longer there was deleted, moved out or no
 * longer matches), then the groups and users changed since the cursor, read whole (members to the
 * end of their ranges). Listings first: an entry made between the two is among the changes.
 * Undefined when the domain controller committed nothing since: every change on a DC, deletions
 * and moves included, takes the next USN. Any failed search throws.
 */
export async function askChanges(ctx: SearchContext, config: LdapSourceConfig, conn: LdapConnection, cursor: LdapCursor): Promise<Asked | undefined> {
  if (nothingCommittedSince(cursor, conn)) return undefined;
  const groupIds = await listIds(ctx, config, 'groups');
  const userIds = await listIds(ctx, config, 'users');
  const { disabledFilter } = config.users;
  const disabledIds = disabledFilter === undefined ? undefined : new Set((await listIds(ctx, config, 'users', disabledFilter)).ids.keys());
  const stampAttribute = stampAttributeOf(conn);
  const narrow = { filter: changedFilter(config, cursor), stampAttribute };
  // a dynamic group (OpenLDAP dynlist: memberURL) has members computed at each search: they change
  // with the users matching its URL, never with its modifyTimestamp, so it is read every time
  const dynamic = cursor.kind === 'modifyTimestamp' ? `(|${narrow.filter}(memberURL=*))` : narrow.filter;
  const changedGroups = await readGroups(ctx, config, { ...narrow, filter: dynamic });
  const changedUsers = await readUsers(ctx, config, conn.server.activeDirectory, narrow);
  return { groupIds, userIds, changedGroups, changedUsers, ...(disabledIds ? { disabledIds } : {}) };
}

/** the latest modifyTimestamp among the changes (epoch ms), where the server has them */
export function highestStampOf(asked: Asked | undefined): number | undefined {
  const stamps = [asked?.changedGroups.highestStamp, asked?.changedUsers.highestStamp].filter((n): n is number => n !== undefined);
  return stamps.length > 0 ? Math.max(...stamps) : undefined;
}

/**
 * The changes merged into the stored read: the directory a full read would give, and what the
 * store takes to hold it. Entries outside the listings are taken from the stored read, groups
 * among them read again. A listed id that is neither stored nor changed is a change the cursor
 * cannot explain: the caller reads in full (`fallback`).
 */
export async function mergeChanges(
  ctx: SearchContext,
  config: LdapSourceConfig,
  asked: Asked | undefined,
  stored: DirectoryRead,
): Promise<ChangesRead | { fallback: string }> {
  const nothing: ChangesRead = {
    read: { directory: stored, groupsWithoutId: [], duplicateIds: [], usersWithoutId: [], warnings: [] },
    changes: EMPTY,
    listed: { groups: 0, users: 0 },
  };
  if (asked === undefined) return nothing;
  const { groupIds, userIds, changedGroups, changedUsers } = asked;
  // which of two groups with one id is the stored one only a full read can say (result.ts groupsById)
  const sharedGroupId = [...groupIds.shared][0];
  if (sharedGroupId !== undefined) return { fallback: `two groups have the id ${sharedGroupId}` };
  const read: ListingRead = { ...nothing.read, directory: { groups: new Map(stored.groups), users: new Map(stored.users), outside: new Map() } };
  read.groupsWithoutId = [...groupIds.withoutId.map((e) => e.dn), ...changedGroups.withoutId];
  // every user without a readable id, changed or not (an ACL hides an attribute without touching
  // modifyTimestamp): their groups are unknown, as in a full read
  read.usersWithoutId = withoutIdOf(changedUsers.withoutId, userIds.withoutId);
  const changed = { groups: new Set(changedGroups.groups.map((g) => g.id)), users: new Set([...changedUsers.byDn.values()].map((u) => u.id)) };
  groupsById(changedGroups.groups, read.directory.groups, read);
  for (const u of changedUsers.byDn.values()) read.directory.users.set(u.id, u);
  // users disabled or enabled without a change of their own
  for (const [id, u] of asked.disabledIds ? read.directory.users : []) {
    const active = !asked.disabledIds!.has(id);
    if (changed.users.has(id) || u.active === active) continue;
    read.directory.users.set(id, { ...u, active });
    changed.users.add(id);
  }
  const deleted = { groups: drop(read.directory.groups, groupIds, changed.groups), users: drop(read.directory.users, userIds, changed.users) };
  const unexplained = firstUnknown(groupIds, read.directory.groups) ?? firstUnknown(userIds, read.directory.users);
  if (unexplained) return { fallback: unexplainedWhy(unexplained) };
  const moved =
    firstMoved(groupIds, (id) => stored.groups.get(id)?.dn, changed.groups) ?? firstMoved(userIds, (id) => stored.users.get(id)?.raw.dn, changed.users);
  if (moved) return { fallback: movedWhy(moved) };

  read.directory.outside = await outsideOf(ctx, config, read.directory, read.usersWithoutId, stored.outside);
  // a member DN that no longer resolves, and is no entry seen deleted, was renamed or moved: groups
  // not changed since still list its old DN (Active Directory's member is a linked attribute, a
  // rename does not touch the group), so only a full read can say who is in them
  const gone = deletedDnKeys(stored, deleted);
  const vanished = [...read.directory.outside].find(([key, o]) => o.kind === 'missing' && stored.outside.get(key)?.kind !== 'missing' && !gone.has(key));
  if (vanished) return { fallback: `member ${vanished[0]} no longer resolves (renamed or moved?)` };
  const highest = highestStampOf(asked);
  if (highest !== undefined) read.highestStamp = highest;
  const changes: ReadChanges = {
    groups: [...changedRows(stored, read.directory, changed.groups), ...outsideRows(stored.outside, read.directory.outside)],
    deletedGroups: [...deleted.groups, ...[...stored.outside.keys()].filter((k) => !read.directory.outside.has(k)).map(outsideId)],
    users: [...changed.users]
      .filter((id) => differs(stored.users.get(id), read.directory.users.get(id)!))
      .map((id) => toStoredUser(read.directory.users.get(id)!)),
    deletedUsers: deleted.users,
  };
  return { read, changes, listed: { groups: changedGroups.groups.length, users: changed.users.size } };
}

/** the DNs (as compared) of the users and groups the id listings showed deleted */
function deletedDnKeys(stored: DirectoryRead, deleted: { groups: string[]; users: string[] }): Set<string> {
  const keys = new Set<string>();
  for (const id of deleted.users) {
    const dn = stored.users.get(id)?.raw.dn;
    if (typeof dn === 'string') keys.add(dnKey(dn));
  }
  for (const id of deleted.groups) {
    const g = stored.groups.get(id);
    if (g) keys.add(g.dnKey);
  }
  return keys;
}

export function unexplainedWhy(dn: string): string {
  return `${dn} is listed, yet neither in the stored read nor changed since the cursor`;
}

const EMPTY: ReadChanges = { groups: [], deletedGroups: [], users: [], deletedUsers: [] };

/** entries no longer listed and not changed since (created after the listing): deleted; their ids */
export function drop<T>(entries: Map<string, T>, listing: IdListing, changed: ReadonlySet<string>): string[] {
  const gone: string[] = [];
  for (const id of entries.keys()) {
    if (listing.ids.has(id) || changed.has(id)) continue;
    entries.delete(id);
    gone.push(id);
  }
  return gone;
}

/**
 * A listed entry that did not change, yet whose DN is not the stored one: an entry above it was
 * renamed or moved (a subtree modrdn changes no modifyTimestamp below it), and groups may name it
 * by either DN. By its new DN.
 */
export function firstMoved(listing: IdListing, storedDn: (id: string) => unknown, changed: ReadonlySet<string>): string | undefined {
  for (const [id, dn] of listing.ids) {
    const before = storedDn(id);
    if (!changed.has(id) && typeof before === 'string' && dnKey(before) !== dnKey(dn)) return dn;
  }
  return undefined;
}

export function movedWhy(dn: string): string {
  return `${dn} has a new DN without a change of its own (an entry above it renamed or moved?)`;
}

/** a listed entry the merged read does not have, by its DN */
export function firstUnknown(listing: IdListing, entries: ReadonlyMap<string, unknown>): string | undefined {
  for (const [id, dn] of listing.ids) if (!entries.has(id)) return dn;
  return undefined;
}

/** changed groups that are not as stored (the overlap lists again what had changed just before) */
function changedRows(stored: DirectoryRead, now: DirectoryRead, ids: ReadonlySet<string>): StoredGroup[] {
  const out: StoredGroup[] = [];
  for (const id of ids) {
    const g = now.groups.get(id);
    if (!g) continue;
    const row = toStoredGroup(g);
    const before = stored.groups.get(id);
    if (!before || !sameStoredGroup(toStoredGroup(before), row)) out.push(row);
  }
  return out;
}

function outsideRows(before: ReadonlyMap<string, Outside>, now: ReadonlyMap<string, Outside>): StoredGroup[] {
  const out: StoredGroup[] = [];
  for (const [key, o] of now) {
    // a read with a failure is not stored: nothing to write
    if (o.kind === 'failed') continue;
    const row = toStoredOutside(key, o);
    const was = before.get(key);
    if (!was || was.kind === 'failed' || !sameStoredGroup(toStoredOutside(key, was), row)) out.push(row);
  }
  return out;
}

function differs(before: SourceUser | undefined, now: SourceUser): boolean {
  return before === undefined || toStoredUser(before).data !== toStoredUser(now).data;
}

/** the changed users without an id, with the listed ones they do not already hold */
function withoutIdOf(changed: readonly UserWithoutId[], listed: IdListing['withoutId']): UserWithoutId[] {
  const seen = new Set(changed.flatMap((u) => u.keys));
  return [...changed, ...listed.filter((e) => !seen.has(dnKey(e.dn))).map((e) => withoutIdUser(e.dn, e.uid))];
}
