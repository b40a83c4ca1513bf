import type { LdapSourceConfig } from '../../config/ldap-schema.js';
import type { SyncError } from '../../errors.js';
import { idValue } from './ad.js';
import type { LdapEntry } from './entry.js';
import { pagedSearch, type SearchContext, type SearchSpec } from './paged-search.js';
import { sharedIds, UID_ATTRIBUTES, uidOf } from './users.js';

export interface IdListing {
  /** id → DN of every entry listed */
  ids: Map<string, string>;
  /** entries without the id attribute: their DN and, for users memberUid groups list, their uid */
  withoutId: { dn: string; uid?: string }[];
  /** ids more than one entry has (users: told among withoutId, as a full read tells them) */
  shared: Set<string>;
}

/**
 * Every group (or user) the configured search finds, with its id and nothing else: what an
 * incremental read compares with the stored read to see what was deleted, moved out of the base
 * or no longer matches the filter.
 */
export async function listIds(ctx: SearchContext, config: LdapSourceConfig, which: 'groups' | 'users', only?: string): Promise<IdListing> {
  const { baseDn, idAttribute } = config[which];
  // `only`: those also matching it (users.disabledFilter: the disabled users)
  const filter = only === undefined ? config[which].filter : `(&${config[which].filter}${only})`;
  // users lacking an id are then told by the uid such groups list them by, as a full read tells them
  const byUid = which === 'users' && config.groups.memberAttribute === 'memberUid';
  const named = [...(idAttribute.toLowerCase() === 'dn' ? [] : [idAttribute]), ...(byUid ? UID_ATTRIBUTES : [])];
  const attributes = named.length > 0 ? named : ['1.1'];
  const what = `${only === undefined ? '' : 'disabled '}${which === 'groups' ? 'group' : 'user'} ids under ${baseDn}`;
  const entries = await pagedWithLargerPages(ctx, { base: baseDn, scope: 'sub', filter, attributes, what }, config.idPageSize);
  const out: IdListing = { ids: new Map(), withoutId: [], shared: sharedIds(entries, idAttribute) };
  for (const e of entries) {
    const id = idValue(e, idAttribute);
    // users sharing an id are told as users without one, as a full read tells them (users.ts)
    if (id === undefined || (which === 'users' && out.shared.has(id))) out.withoutId.push({ dn: e.dn, ...(byUid ? { uid: uidOf(e) } : {}) });
    else out.ids.set(id, e.dn);
  }
  return out;
}

/**
 * A paged search at `pageSize` where that is larger than the configured one: an entry with its id
 * alone is a small part of a full one. A server that refuses the page size at the first page
 * (OpenLDAP's size.pr: adminLimitExceeded, "illegal pagedResults page size") is asked again at
 * the configured size; Active Directory serves at most MaxPageSize whatever is asked.
 */
async function pagedWithLargerPages(ctx: SearchContext, spec: SearchSpec, pageSize: number): Promise<LdapEntry[]> {
  if (pageSize <= ctx.pageSize) return pagedSearch(ctx, spec);
  const before = ctx.stats.requests;
  try {
    return await pagedSearch({ ...ctx, pageSize }, spec);
  } catch (e) {
    const firstPage = ctx.stats.requests - before === 1;
    if (!firstPage || (e as SyncError).label !== 'adminLimitExceeded') throw e;
    return pagedSearch(ctx, spec);
  }
}
