import type { LdapSourceConfig } from '../../config/ldap-schema.js';
import type { SourceUser } from '../types.js';
import { disabledByAccountControl, idValue, isBinaryId } from './ad.js';
import { dnKey, first, values, type LdapEntry } from './entry.js';
import type { SearchNarrowing } from './groups.js';
import { pagedSearch, type SearchContext } from './paged-search.js';
import { highestStamp } from './time.js';

/** read for every user whatever else is configured: what SourceUser's own fields are made of */
const ALWAYS = ['uid', 'mail', 'displayName', 'cn'];
const ACTIVE_DIRECTORY = ['sAMAccountName', 'userPrincipalName', 'userAccountControl'];

export interface UserWithoutId {
  dn: string;
  /** how a group may list it: its DN as compared, and its uid (lower-cased) for memberUid groups */
  keys: string[];
}

export interface ReadUsers {
  byDn: Map<string, SourceUser>;
  byUid: Map<string, SourceUser>;
  /** users left out for want of an id: a group listing one is unknown, never complete without them */
  withoutId: UserWithoutId[];
  /** the latest `stampAttribute` among the users read (epoch ms) */
  highestStamp?: number;
}

function attributesOf(config: LdapSourceConfig, activeDirectory: boolean): string[] {
  const wanted = [config.users.idAttribute, ...ALWAYS, ...(activeDirectory ? ACTIVE_DIRECTORY : []), ...config.users.attributes];
  const seen = new Set<string>();
  return wanted.filter((a) => a.toLowerCase() !== 'dn' && !seen.has(a.toLowerCase()) && seen.add(a.toLowerCase()));
}

/**
 * Every user under users.baseDn matching users.filter, as SourceUser: `raw` holds the DN and each
 * attribute read under its configured spelling (its first value; objectGUID in its string form), so
 * identity.from can name any of users.attributes. Disabled: matching users.disabledFilter (a second
 * search) or, on Active Directory without one, userAccountControl's ACCOUNTDISABLE bit.
 */
export async function readUsers(ctx: SearchContext, config: LdapSourceConfig, activeDirectory: boolean, narrow: SearchNarrowing = {}): Promise<ReadUsers> {
  const { baseDn, disabledFilter, idAttribute } = config.users;
  const filter = narrow.filter === undefined ? config.users.filter : `(&${config.users.filter}${narrow.filter})`;
  const attributes = attributesOf(config, activeDirectory);
  const changed = narrow.filter === undefined ? '' : 'changed ';
  const entries = await pagedSearch(ctx, {
    base: baseDn,
    scope: 'sub',
    filter,
    attributes: [...attributes, ...(narrow.stampAttribute ? [narrow.stampAttribute] : [])],
    what: `${changed}users under ${baseDn}`,
  });
  let disabled: Set<string> | undefined;
  // no user read, none to mark
  if (disabledFilter !== undefined && entries.length > 0) {
    const off = await pagedSearch(ctx, {
      base: baseDn,
      scope: 'sub',
      filter: `(&${filter}${disabledFilter})`,
      attributes: ['1.1'],
      what: `${changed}disabled users under ${baseDn}`,
    });
    disabled = new Set(off.map((e) => dnKey(e.dn)));
  }
  const stamp = narrow.stampAttribute === undefined ? undefined : highestStamp(entries, narrow.stampAttribute);
  const out: ReadUsers = { byDn: new Map(), byUid: new Map(), withoutId: [], highestStamp: stamp };
  const kept = attributes.map((name) => ({ name, binary: isBinaryId(name) }));
  const shared = sharedIds(entries, idAttribute);
  for (const entry of entries) {
    const key = dnKey(entry.dn);
    const id = idValue(entry, idAttribute);
    // an id two users have names neither: the groups listing them are unknown, as for a user without one
    if (id === undefined || shared.has(id)) {
      out.withoutId.push(withoutIdUser(entry.dn, uidOf(entry)));
      continue;
    }
    const off = disabled ? disabled.has(key) : activeDirectory && disabledByAccountControl(entry) === true;
    const user = toSourceUser(entry, id, !off, kept);
    out.byDn.set(key, user);
    const uid = uidOf(entry);
    if (uid !== undefined) out.byUid.set(uid.toLowerCase(), user);
  }
  return out;
}

/** ids that more than one of the entries has */
export function sharedIds(entries: readonly LdapEntry[], idAttribute: string): Set<string> {
  const seen = new Set<string>();
  const shared = new Set<string>();
  for (const e of entries) {
    const id = idValue(e, idAttribute);
    if (id === undefined) continue;
    if (seen.has(id)) shared.add(id);
    seen.add(id);
  }
  return shared;
}

/** the name a memberUid group lists a user by (the attributes read for it: `UID_ATTRIBUTES`) */
export function uidOf(entry: LdapEntry): string | undefined {
  return first(entry, 'uid') ?? first(entry, 'sAMAccountName');
}

export const UID_ATTRIBUTES = ['uid', 'sAMAccountName'];

/** a user without an id, by the keys a group may list them by */
export function withoutIdUser(dn: string, uid: string | undefined): UserWithoutId {
  return { dn, keys: [dnKey(dn), ...(uid === undefined ? [] : [uid.toLowerCase()])] };
}

function toSourceUser(entry: LdapEntry, id: string, active: boolean, attributes: { name: string; binary: boolean }[]): SourceUser {
  const raw: Record<string, unknown> = { dn: entry.dn };
  for (const a of attributes) {
    const v = a.binary ? idValue(entry, a.name) : first(entry, a.name);
    if (v !== undefined) raw[a.name] = v;
  }
  const userName = uidOf(entry);
  const displayName = first(entry, 'displayName') ?? first(entry, 'cn');
  // memberUid matches any uid value (as nss does); kept only when there is more than one
  const otherUids = values(entry, 'uid').filter((v) => v !== '' && v !== userName);
  return {
    id,
    emails: values(entry, 'mail').filter((m) => m !== ''),
    active,
    raw,
    userName,
    displayName,
    ...(otherUids.length > 0 ? { otherUids } : {}),
  };
}
