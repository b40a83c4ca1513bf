import type { ReadGroup as StoredGroup, ReadUser as StoredUser } from '../../store/source-reads.js';
import type { SourceUser } from '../types.js';
import { dnKey } from './entry.js';
import type { Outside, ReadGroup } from './nested.js';

/**
 * The directory as a read knows it, and as the store keeps it between reads (store.reads): the
 * listed groups by id, their members as DN keys (or uids); the users by id, each as its SourceUser;
 * the member entries outside both listings by DN key, as reading them found them.
 */
export interface DirectoryRead {
  groups: Map<string, ReadGroup>;
  users: Map<string, SourceUser>;
  outside: Map<string, Outside>;
}

/**
 * Entries outside the listings share the table of stored groups under ids no directory gives: a
 * control character, then the DN key.
 */
const OUTSIDE = '\u0001';

interface GroupData {
  dn: string;
  outside?: 'group' | 'missing' | 'not-user';
}

export function toStoredGroup(g: ReadGroup): StoredGroup {
  const data: GroupData = { dn: g.dn };
  return { id: g.id, displayName: g.displayName, members: g.members, data: JSON.stringify(data) };
}

/** an entry outside the listings as stored; one that could not be read is never stored */
export function toStoredOutside(key: string, o: Exclude<Outside, { kind: 'failed' }>): StoredGroup {
  const data: GroupData = { dn: o.kind === 'group' ? o.dn : key, outside: o.kind };
  return { id: `${OUTSIDE}${key}`, displayName: data.dn, members: o.kind === 'group' ? o.members : [], data: JSON.stringify(data) };
}

export function outsideId(key: string): string {
  return `${OUTSIDE}${key}`;
}

export function isOutsideId(id: string): boolean {
  return id.startsWith(OUTSIDE);
}

export function toStoredUser(u: SourceUser): StoredUser {
  // what a run left on the user (its number, its print) is no part of it
  const { id, numbered: _numbered, printedBy: _by, printedA: _a, printedB: _b, ...rest } = u;
  return { id, data: JSON.stringify(rest) };
}

/** the stored read as a directory; rows it cannot understand are left out and counted */
export function fromStored(rows: readonly StoredGroup[], users: ReadonlyMap<string, string>): { directory: DirectoryRead; unreadable: number } {
  const directory: DirectoryRead = { groups: new Map(), users: new Map(), outside: new Map() };
  let unreadable = 0;
  for (const row of rows) {
    const data = parse<GroupData>(row.data);
    if (!data || typeof data.dn !== 'string') {
      unreadable++;
      continue;
    }
    if (isOutsideId(row.id)) {
      const key = row.id.slice(OUTSIDE.length);
      directory.outside.set(
        key,
        data.outside === 'group' ? { kind: 'group', dn: data.dn, members: row.members } : { kind: data.outside === 'missing' ? 'missing' : 'not-user' },
      );
    } else directory.groups.set(row.id, { id: row.id, dn: data.dn, dnKey: dnKey(data.dn), displayName: row.displayName, members: row.members });
  }
  for (const [id, text] of users) {
    const u = parse<Omit<SourceUser, 'id'>>(text);
    if (!u || typeof u.raw?.dn !== 'string' || !Array.isArray(u.emails)) unreadable++;
    else directory.users.set(id, { id, ...u });
  }
  return { directory, unreadable };
}

/** users by DN key and by lower-cased uid (sAMAccountName on AD), as expansion looks them up */
export function userIndexes(users: Iterable<SourceUser>): { byDn: Map<string, SourceUser>; byUid: Map<string, SourceUser> } {
  const byDn = new Map<string, SourceUser>();
  const byUid = new Map<string, SourceUser>();
  const others: SourceUser[] = [];
  for (const u of users) {
    byDn.set(dnKey(u.raw.dn as string), u);
    if (u.userName !== undefined) byUid.set(u.userName.toLowerCase(), u);
    if (u.otherUids) others.push(u);
  }
  // a further uid names its user where no user has it as their first
  for (const u of others) for (const uid of u.otherUids!) if (!byUid.has(uid.toLowerCase())) byUid.set(uid.toLowerCase(), u);
  return { byDn, byUid };
}

/** whether two stored groups say the same: name, members in order, data */
export function sameStoredGroup(a: StoredGroup, b: StoredGroup): boolean {
  if (a.displayName !== b.displayName || a.data !== b.data || a.members.length !== b.members.length) return false;
  for (let i = 0; i < a.members.length; i++) if (a.members[i] !== b.members[i]) return false;
  return true;
}

function parse<T>(text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** the rows a full read stores: listed groups, the entries outside the listings, users */
export function toStoredRows(d: DirectoryRead): { groups: StoredGroup[]; users: StoredUser[] } {
  const groups = [...d.groups.values()].map(toStoredGroup);
  for (const [key, o] of d.outside) if (o.kind !== 'failed') groups.push(toStoredOutside(key, o));
  return { groups, users: [...d.users.values()].map(toStoredUser) };
}
