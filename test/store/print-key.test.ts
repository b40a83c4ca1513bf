import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/migrations/index.js';
import { Store } from '../../src/store/store.js';
import { tempDbPaths } from '../helpers/temp-db.js';

const dbPath = tempDbPaths('convsync-print-key-');
const HEX = /^[0-9a-f]{16}$/;

describe("the key of a store's prints", () => {
  it('is made with the store, kept when it is opened again, and another store has another', () => {
    const path = dbPath();
    const store = Store.open(path);
    const key = store.prints.key();
    expect(key).toMatch(HEX);
    expect(store.prints.key()).toBe(key);
    store.close();
    const again = Store.open(path);
    expect(again.prints.key()).toBe(key);
    again.close();
    const other = Store.open(dbPath());
    expect(other.prints.key()).not.toBe(key);
    other.close();
  });

  it('is made anew when missing or damaged', () => {
    const path = dbPath();
    Store.open(path).close();
    for (const damage of [`DELETE FROM meta WHERE key = 'print_key'`, `UPDATE meta SET value = 'not hex' WHERE key = 'print_key'`]) {
      const db = new Database(path);
      db.exec(damage);
      db.close();
      const store = Store.open(path);
      const key = store.prints.key();
      expect(key).toMatch(HEX);
      expect(store.prints.key()).toBe(key);
      store.close();
    }
  });

  it('comes with the upgrade that made prints keyed, which forgets the prints and parts made before', () => {
    const path = dbPath();
    const version = MIGRATIONS.findIndex((m) => m.includes("'print_key'"));
    const db = new Database(path);
    for (const m of MIGRATIONS.slice(0, version)) db.exec(m);
    db.pragma(`user_version = ${version}`);
    db.prepare(`INSERT INTO group_prints (key, print) VALUES ('f:eng', 'old.print')`).run();
    db.prepare(`INSERT INTO group_parts (group_key, print, identity, unresolved, refs) VALUES ('f:eng', 'old', 'rule', 0, '1,2')`).run();
    db.close();
    const store = Store.open(path);
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    expect(store.prints.key()).toMatch(HEX);
    expect(store.prints.all().size).toBe(0);
    expect(store.parts.count()).toBe(0);
    store.close();
  });
});
