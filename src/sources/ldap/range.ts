import { PermanentError } from '../../errors.js';
import { values, type LdapEntry } from './entry.js';
import { readEntry, type SearchContext } from './paged-search.js';

interface Range {
  values: string[];
  start: number;
  /** undefined for `*`: the last range */
  end: number | undefined;
}

function rangeOf(entry: LdapEntry, attribute: string, origin: string): Range | undefined {
  const prefix = `${attribute.toLowerCase()};range=`;
  for (const [name, attr] of entry.attrs) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-(\d+|\*)$/.exec(name.slice(prefix.length));
    // a range this cannot read holds some of the members: taken as none, the group would be read empty
    if (!m) throw new PermanentError(`${name} of ${entry.dn}: a range option that is not first-last`, { origin, label: 'range-lost' });
    return { values: attr.values, start: Number(m[1]), end: m[2] === '*' ? undefined : Number(m[2]) };
  }
  return undefined;
}

/**
 * All values of a multi-valued attribute. Active Directory hands out at most MaxValRange values
 * (1500 by default) as `member;range=0-1499`, leaving `member` out; the rest is asked for as
 * `member;range=1500-*` until a range ends in `*` (MS-ADTS 3.1.1.3.1.3.3). Anything short of the
 * last range throws: a partial member list is never taken as the group.
 */
export async function allValues(ctx: SearchContext, entry: LdapEntry, attribute: string): Promise<string[]> {
  let range = rangeOf(entry, attribute, ctx.origin);
  if (!range) return values(entry, attribute);
  const out = [...range.values];
  while (range.end !== undefined) {
    const next = range.end + 1;
    const what = `range retrieval of ${attribute} of ${entry.dn} from ${next}`;
    const again = await readEntry(ctx, entry.dn, [`${attribute};range=${next}-*`], what);
    if (!again) throw new PermanentError(`${what}: the group vanished during the read`, { origin: ctx.origin, label: 'vanished' });
    const got = rangeOf(again, attribute, ctx.origin);
    if (!got || got.start !== next) {
      throw new PermanentError(`${what}: the answer held no range starting at ${next}, so the rest of its members is unknown`, {
        origin: ctx.origin,
        label: 'range-lost',
      });
    }
    out.push(...got.values);
    range = got;
  }
  return out;
}
