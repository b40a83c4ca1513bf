import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/sandbox/random.js';
import { Store } from '../../src/store/store.js';
import { tempDbPaths } from '../helpers/temp-db.js';
import { rawBindings } from '../helpers/raw-bindings.js';

/** group keys as sources make them, with the characters JSON escapes or SQLite might trip on */
const POOL = [
  'dir:g1',
  'dir:g2',
  'dir:g3',
  'scim:a"b',
  'scim:a\\b',
  'ldap:cn=x,ou=y',
  'dir:ü',
  'dir:😀',
  'dir:tab\t',
  'dir:\uFFFD',
  'dir:x\ud800',
  'dir:y\udc00',
];

describe('the conversations that list some groups', () => {
  const dbPath = tempDbPaths('convsync-binding-groups-');

  it('are those of every conversation bound or let go whose groups include one, whatever the keys hold', () => {
    const path = dbPath();
    const store = Store.open(path);
    const rows = rawBindings(path);
    const random = seededRandom(7);
    for (let i = 0; i < 80; i++) {
      const groups = POOL.filter(() => random() < 0.15);
      const state = random() < 0.5 ? 'bound' : random() < 0.7 ? 'unbound' : 'deleted';
      // as JSON.stringify writes a list (lone surrogates escaped), or, for some, the text as it came
      const text =
        random() < 0.8 ? JSON.stringify(groups) : `[${groups.map((g) => `"${g.replace(/["\\]/g, (c) => `\\${c}`).replace('\t', '\\t')}"`).join(',')}]`;
      rows.insert(`conv:${i}`, `c${i}`, `Team ${i}`, text, state);
    }
    rows.close();
    const all = store.bindingGroups.all();
    expect(all.length).toBeGreaterThan(50);
    const keysOf = (cs: readonly { key: string }[]) => cs.map((c) => c.key).sort();
    let found = 0;
    for (let trial = 0; trial < 300; trial++) {
      const asked = [...POOL, 'dir:none', 'dir:x\uFFFD', 'dir:x\uFFFD\uFFFD\uFFFD'].filter(() => random() < 0.2);
      const wanted = new Set(asked);
      const expected = all.filter((c) => c.groups.some((g) => wanted.has(g)));
      const listed = store.bindingGroups.listing(asked);
      expect(keysOf(listed), JSON.stringify(asked)).toEqual(keysOf(expected));
      expect(listed).toEqual(expect.arrayContaining(expected));
      found += listed.length;
    }
    expect(found).toBeGreaterThan(300);
    expect(store.bindingGroups.listing([])).toEqual([]);
    store.close();
  });
});
