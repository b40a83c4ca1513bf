import type { AdEntry } from './directory.js';
import type { EntryAttribute } from './messages.js';

/** operational attributes AD gives only when asked for by name */
const OPERATIONAL = new Set(['usnchanged', 'usncreated', 'whenchanged']);
export const NO_ATTRIBUTES: ReadonlySet<string> = new Set();
/** what a server without update sequence numbers does not have */
export const WITHOUT_USN: ReadonlySet<string> = new Set(['usnchanged', 'usncreated']);

/**
 * The attributes of an entry that a search asked for, as AD answers: `*` or none asked means every
 * attribute but the operational ones, `1.1` none. A multi-valued attribute with more values than
 * MaxValRange is never sent whole: asked for plainly it comes as `member;range=0-1499`; asked for
 * as `member;range=low-high` (or `low-*`) it comes as the values from low, at most MaxValRange of
 * them, named with their last index or with `*` when they reach the end (MS-ADTS 3.1.1.3.1.3.3).
 * `hidden` (lower case) are attributes the server is playing without: never answered.
 */
export function selectAttributes(entry: AdEntry, requested: string[], maxValRange: number, hidden: ReadonlySet<string> = NO_ATTRIBUTES): EntryAttribute[] {
  const asked = requested.filter((a) => a !== '1.1' && !hidden.has(a.replace(/;.*$/, '').toLowerCase()));
  const all = asked.length === 0 ? requested.length === 0 : asked.includes('*');
  const out: EntryAttribute[] = [];
  const done = new Set<string>();
  const plain = (name: string) => {
    const attr = entry.attrs.get(name.toLowerCase());
    if (!attr || done.has(name.toLowerCase())) return;
    done.add(name.toLowerCase());
    if (attr.values.length > maxValRange) out.push({ type: `${attr.name};range=0-${maxValRange - 1}`, values: attr.values.slice(0, maxValRange) });
    else out.push({ type: attr.name, values: attr.values });
  };
  if (all) for (const [key, attr] of entry.attrs) if (!OPERATIONAL.has(key)) plain(attr.name);
  for (const a of asked) {
    if (a === '*') continue;
    const m = /^([^;]+);range=(\d+)-(\d+|\*)$/i.exec(a);
    if (!m) {
      plain(a);
      continue;
    }
    const attr = entry.attrs.get(m[1]!.toLowerCase());
    if (!attr) continue;
    const low = Number(m[2]);
    const high = m[3] === '*' ? attr.values.length - 1 : Math.min(Number(m[3]), attr.values.length - 1);
    const last = Math.min(high, low + maxValRange - 1);
    const values = attr.values.slice(low, last + 1);
    out.push({ type: `${attr.name};range=${low}-${last >= attr.values.length - 1 ? '*' : last}`, values });
  }
  return out;
}
