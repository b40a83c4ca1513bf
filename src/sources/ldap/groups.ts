import type { LdapSourceConfig } from '../../config/ldap-schema.js';
import { describeError } from '../../errors.js';
import { runPool } from '../../pool.js';
import { idValue } from './ad.js';
import { dnKey, first, memberDn, type LdapEntry } from './entry.js';
import type { ReadGroup } from './nested.js';
import { pagedSearch, type SearchContext } from './paged-search.js';
import { allValues } from './range.js';
import { highestStamp } from './time.js';

export interface ReadGroups {
  groups: ReadGroup[];
  /** groups left out for want of an id: the listing is then not whole */
  withoutId: string[];
  /** the latest `stampAttribute` among the groups read (epoch ms) */
  highestStamp?: number;
}

/** a narrower search: only entries also matching `filter` (what changed since a cursor); `stampAttribute` read too */
export interface SearchNarrowing {
  filter?: string;
  stampAttribute?: string;
}

/**
 * Every group under groups.baseDn matching groups.filter, its members as DN keys (or lower-cased
 * uids for memberUid). Members handed out in ranges (AD) are read to the end; a group whose range
 * could not be read keeps the failure, and its membership is unknown.
 */
export async function readGroups(ctx: SearchContext, config: LdapSourceConfig, narrow: SearchNarrowing = {}): Promise<ReadGroups> {
  const { baseDn, idAttribute, nameAttribute, memberAttribute } = config.groups;
  const filter = narrow.filter === undefined ? config.groups.filter : `(&${config.groups.filter}${narrow.filter})`;
  const attributes = [idAttribute, nameAttribute, memberAttribute, ...(narrow.stampAttribute ? [narrow.stampAttribute] : [])].filter(
    (a) => a.toLowerCase() !== 'dn',
  );
  const what = `${narrow.filter === undefined ? 'groups' : 'changed groups'} under ${baseDn}`;
  const entries = await pagedSearch(ctx, { base: baseDn, scope: 'sub', filter, attributes, what });
  const stamp = narrow.stampAttribute === undefined ? undefined : highestStamp(entries, narrow.stampAttribute);
  const out: ReadGroups = { groups: [], withoutId: [], highestStamp: stamp };
  const byUid = memberAttribute === 'memberUid';
  const ranged: { group: ReadGroup; entry: LdapEntry }[] = [];
  for (const entry of entries) {
    const id = idValue(entry, idAttribute);
    if (id === undefined) {
      out.withoutId.push(entry.dn);
      continue;
    }
    const group: ReadGroup = { dnKey: dnKey(entry.dn), dn: entry.dn, id, displayName: first(entry, nameAttribute) ?? id, members: [] };
    const attr = entry.attrs.get(memberAttribute.toLowerCase());
    if (attr) group.members = toMembers(attr.values, byUid);
    else if ([...entry.attrs.keys()].some((k) => k.startsWith(`${memberAttribute.toLowerCase()};range=`))) ranged.push({ group, entry });
    out.groups.push(group);
  }
  await runPool(ranged, config.concurrency, async ({ group, entry }) => {
    try {
      group.members = toMembers(await allValues(ctx, entry, memberAttribute), byUid);
    } catch (e) {
      ctx.signal.throwIfAborted();
      group.failure = `its members could not be read to the end (${describeError(e)})`;
    }
  });
  return out;
}

function toMembers(list: string[], byUid: boolean): string[] {
  return byUid ? list.map((v) => v.trim().toLowerCase()) : list.map((v) => dnKey(memberDn(v)));
}
