import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/sandbox/random.js';
import type { PrintsDiffer } from '../../src/store/group-prints.js';
import { Store } from '../../src/store/store.js';
import { tempDbPaths } from '../helpers/temp-db.js';

/** group keys as sources make them, with characters JSON escapes, and one SQLite cannot keep (a lone surrogate) */
const KEYS = ['dir:g1', 'dir:g2', 'dir:g3', 'dir:g4', 'scim:a"b', 'scim:a\\b', 'ldap:cn=x,ou=y', 'dir:ü', 'dir:😀', 'dir:\uFFFD', 'dir:x\uFFFD', 'dir:tab\t'];
const LONE = ['dir:x\ud800', 'dir:x\udc00'];

/** the model: the prints as saved, compared here */
function differingFrom(stored: ReadonlyMap<string, string>, prints: ReadonlyMap<string, string>): PrintsDiffer {
  const changed = [...prints].filter(([key, print]) => stored.get(key) !== print).map(([key]) => key);
  return { changed, fresh: changed.filter((k) => !stored.has(k)), gone: [...stored.keys()].filter((k) => !prints.has(k)).length };
}

describe('the prints of a read against the last complete plan’s', () => {
  const dbPath = tempDbPaths('convsync-prints-');

  it('differ key by key as the keys were given: those changed in read order, those not stored, and how many stored were not read', () => {
    const store = Store.open(dbPath());
    const random = seededRandom(11);
    const printOf = () => ['p1', 'p2', '1z~3~4.x'][Math.floor(random() * 3)]!;
    let seen = { changed: 0, fresh: 0, gone: 0 };
    for (let trial = 0; trial < 200; trial++) {
      const pool = trial % 4 === 0 ? [...KEYS, ...LONE] : KEYS;
      const storedPrints = new Map(pool.filter(() => random() < 0.6).map((k) => [k, printOf()] as const));
      store.prints.save(storedPrints, { replace: true });
      const read = new Map(pool.filter(() => random() < 0.6).map((k) => [k, printOf()] as const));
      const differ = store.prints.differing(read);
      // keys compared as they were given: a lone surrogate SQLite keeps meets only itself, though
      // it reads back into JavaScript as U+FFFD
      expect(differ, JSON.stringify([...read])).toEqual(differingFrom(storedPrints, read));
      seen = { changed: seen.changed + differ.changed.length, fresh: seen.fresh + differ.fresh.length, gone: seen.gone + differ.gone };
    }
    expect(seen.changed).toBeGreaterThan(200);
    expect(seen.fresh).toBeGreaterThan(100);
    expect(seen.gone).toBeGreaterThan(100);
    store.close();
  });
});
