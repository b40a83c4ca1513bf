import type { LdapSourceConfig } from '../../config/ldap-schema.js';
import type { SyncError } from '../../errors.js';
import { idValue } from './ad.js';
import type { LdapEntry } from './entry.js';
import { pagedSearch, type SearchContext, type SearchSpec } from './paged-search.js';
import { UID_ATTRIBUTES, uidOf } from './users.js';

export interface IdListing {
  /** id → DN of every entry listed */
  ids: Map<string, string>;
  /** entries without the id attribute: their DN and, for users memberUid groups list, their uid */
  withoutId: { dn: string; uid?: string }[];
}

/**
 * Every group (or user) the configured search finds, with its id and nothing else: what an
 * incremental read compares with the stored read to see what was deleted, moved out of the base
 * or no longer matches the filter.
 */
export async function listIds(ctx: SearchContext, config: LdapSourceConfig, which: 'groups' | 'users'): Promise<IdListing> {
  const { baseDn, filter, idAttribute } = config[which];
  // users lacking an id are then told by the uid such groups list them by, as a full read tells them
  const byUid = which === 'users' && config.groups.memberAttribute === 'memberUid';
  const named = [...(idAttribute.toLowerCase() === 'dn' ? [] : [idAttribute]), ...(byUid ? UID_ATTRIBUTES : [])];
  const attributes = named.length > 0 ? named : ['1.1'];
  const what = `${which === 'groups' ? 'group' : 'user'} ids under ${baseDn}`;
  const entries = await pagedWithLargerPages(ctx, { base: baseDn, scope: 'sub', filter, attributes, what }, config.idPageSize);
  const out: IdListing = { ids: new Map(), withoutId: [] };
  for (const e of entries) {
    const id = idValue(e, idAttribute);
    if (id === undefined) out.withoutId.push({ dn: e.dn, ...(byUid ? { uid: uidOf(e) } : {}) });
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
