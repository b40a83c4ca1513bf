import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/migrations/index.js';
import { PushPages } from '../../src/store/push-pages.js';
import { Store } from '../../src/store/store.js';

const dbPath = () => join(mkdtempSync(join(tmpdir(), 'convsync-push-store-')), 'store.sqlite');

/** the SELECTs of the push store that compare more than the source: the look-ups */
function lookupQueries(): string[] {
  const text = readFileSync(new URL('../../src/store/push.ts', import.meta.url), 'utf8');
  return [...text.matchAll(/this\.sql\(\s*`([^`]+)`/g)]
    .map((m) => m[1]!.replace(/\s+/g, ' ').trim())
    .filter((q) => /^SELECT/.test(q) && !q.includes('${') && /WHERE .*source = \? AND /.test(q));
}

describe('the SCIM push store', () => {
  it('answers every look-up by searching an index on the value looked up, never by walking the source', () => {
    const path = dbPath();
    Store.open(path).close();
    const db = new Database(path);
    const queries = lookupQueries();
    expect(queries.length).toBeGreaterThanOrEqual(10);
    for (const q of queries) {
      const plan = db
        .prepare(`EXPLAIN QUERY PLAN ${q}`)
        .all(...Array<string>((q.match(/\?/g) ?? []).length).fill('x'))
        .map((r) => (r as { detail: string }).detail)
        // a list of ids given as JSON (a page's stored answers) is walked, not the source
        .filter((d) => !/^(SCAN CONSTANT ROW|SCALAR SUBQUERY|LIST SUBQUERY|SCAN json_each VIRTUAL TABLE)/.test(d));
      for (const step of plan) {
        // a search on (source=?) alone reads every row of the source
        expect(step, q).toMatch(/^SEARCH .* \(source=\? AND [a-z_]+=\?/);
      }
    }
    db.close();
  });

  it('gives the users a store held before the email index their emails, and answers for them on first read', () => {
    const path = dbPath();
    const version = MIGRATIONS.findIndex((m) => m.includes('CREATE TABLE push_user_emails'));
    expect(version).toBeGreaterThan(0);
    const db = new Database(path);
    for (const m of MIGRATIONS.slice(0, version)) db.exec(m);
    db.pragma(`user_version = ${version}`);
    const insert = db.prepare(`INSERT INTO push_users (source, id, user_name, resource, created_at, updated_at) VALUES ('idp', ?, ?, ?, 't', 't')`);
    insert.run('u1', 'a', JSON.stringify({ userName: 'a', emails: [{ type: 'work', value: 'a@corp.example' }, { value: 'shared@example.com' }] }));
    insert.run('u2', 'b', JSON.stringify({ userName: 'b', emails: [{ value: 'shared@example.com' }, 'not an object', { value: 5 }] }));
    insert.run('u3', 'c', JSON.stringify({ userName: 'c', emails: { value: 'not-a-list@example.com' } }));
    insert.run('u4', 'd', JSON.stringify({ userName: 'd' }));
    db.close();

    const store = Store.open(path);
    const ids = (value: string) =>
      store.push
        .usersByEmail('idp', value)
        .map((u) => u.id)
        .sort();
    expect(ids('a@corp.example')).toEqual(['u1']);
    expect(ids('shared@example.com')).toEqual(['u1', 'u2']);
    expect(ids('not-a-list@example.com')).toEqual([]);
    expect(store.push.rendered.get('idp', 'User', 'u1')).toBeUndefined();
    // written again: the old emails go, the new ones are found
    store.push.putUser('idp', { id: 'u2', userName: 'b', active: true, resource: { userName: 'b', emails: [{ value: 'b@corp.example' }] } }, 't2');
    expect(ids('shared@example.com')).toEqual(['u1']);
    expect(ids('b@corp.example')).toEqual(['u2']);
    store.push.deleteUser('idp', 'u1');
    expect(ids('a@corp.example')).toEqual([]);
    store.close();
  });

  it('reads a whole source in pages that all see its state when the read began, while pushes go on being written', async () => {
    const store = Store.open(dbPath());
    const now = new Date().toISOString();
    const ids = Array.from({ length: 4500 }, (_, i) => `u${String(i).padStart(5, '0')}`);
    store.push.transaction(() => {
      for (const id of ids) store.push.putUser('idp', { id, userName: `${id}@example.com`, active: true, resource: {} }, now);
      store.push.putGroup('idp', { id: 'g1', displayName: 'g1' }, now);
      store.push.addMembers('idp', 'g1', ids);
    });
    let pauses = 0;
    const whole = await store.push.readWhole('idp', async () => {
      pauses++;
      // written between two pages, on the store's own connection
      store.push.putUser('idp', { id: `z${pauses}`, userName: `z${pauses}@example.com`, active: true, resource: {} }, now);
      store.push.addMembers('idp', 'g1', [`z${pauses}`]);
      store.push.removeMembers('idp', 'g1', ['u04499']);
      await new Promise(setImmediate);
    });
    expect(pauses).toBeGreaterThan(1);
    expect(whole.users.map((u) => u.id)).toEqual(ids);
    expect(whole.groups.map((g) => g.id)).toEqual(['g1']);
    expect(whole.members.get('g1')).toEqual(ids);
    expect(store.push.members('idp', 'g1')).toContain('z1');
    store.close();
  });

  it('steps over the ids alone for a page at an offset no page ended at, and reads only the rows of the page', () => {
    const path = dbPath();
    const store = Store.open(path);
    const now = new Date().toISOString();
    store.push.transaction(() => {
      for (let i = 0; i < 30; i++) store.push.putUser('idp', { id: `u${String(i).padStart(2, '0')}`, userName: `u${i}`, active: true, resource: {} }, now);
      for (let i = 0; i < 30; i++) store.push.putGroup('idp', { id: `g${String(i).padStart(2, '0')}`, displayName: `g${i}` }, now);
    });
    store.close();
    const db = new Database(path);
    const asked: string[] = [];
    const pages = new PushPages((text) => (asked.push(text), db.prepare(text)));
    expect(pages.page<{ id: string }>('push_users', 'idp', 7, 3).map((r) => r.id)).toEqual(['u07', 'u08', 'u09']);
    const shape = { columns: 't.id, r.json', join: `LEFT JOIN push_rendered r ON r.source = t.source AND r.kind = 'Group' AND r.id = t.id` };
    expect(pages.page<{ id: string }>('push_groups', 'idp', 28, 5, shape).map((r) => r.id)).toEqual(['g28', 'g29']);
    expect(asked).toHaveLength(2);
    for (const [q, table] of asked.map((q, i) => [q, ['push_users', 'push_groups'][i]!] as const)) {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${q}`).all('idp', 1, 1) as { detail: string }[]).map((r) => r.detail);
      expect(plan, q).toContain(`SEARCH ${table} USING COVERING INDEX ${table}_ids (source=?)`);
      // the rows themselves, and their answers, are read by id: none is stepped over
      expect(
        plan.filter((d) => /^SCAN (?!p\b)/.test(d)),
        q,
      ).toEqual([]);
      expect(
        plan.filter((d) => / t USING PRIMARY KEY \(source=\? AND id=\?\)/.test(d)),
        q,
      ).toHaveLength(1);
    }
    db.close();
  });
  it('keeps what listings learnt when a PUT replaces a user or group, and forgets it when one adds a row', () => {
    const path = dbPath();
    const store = Store.open(path);
    const now = new Date().toISOString();
    for (let i = 0; i < 5; i++) {
      store.push.putUser('idp', { id: `u${i}`, userName: `u${i}`, active: true, resource: {} }, now);
      store.push.putGroup('idp', { id: `g${i}`, displayName: `g${i}` }, now);
    }
    expect([store.push.userCount('idp'), store.push.groupCount('idp')]).toEqual([5, 5]);
    // a row no write of the store told it of: a count still learnt does not see it
    const other = new Database(path);
    other
      .prepare(`INSERT INTO push_users (source, id, user_name, active, resource, created_at, updated_at) VALUES ('idp', 'x', 'x', 1, '{}', ?, ?)`)
      .run(now, now);
    other.prepare(`INSERT INTO push_groups (source, id, display_name, created_at, updated_at) VALUES ('idp', 'x', 'x', ?, ?)`).run(now, now);
    other.close();
    const later = new Date(Date.parse(now) + 1000).toISOString();
    store.push.putUser('idp', { id: 'u2', userName: 'renamed', active: false, resource: {} }, later);
    store.push.putGroup('idp', { id: 'g2', displayName: 'renamed' }, later);
    expect([store.push.userCount('idp'), store.push.groupCount('idp')]).toEqual([5, 5]);
    store.push.putUser('idp', { id: 'u9', userName: 'new', active: true, resource: {} }, later);
    store.push.putGroup('idp', { id: 'g9', displayName: 'new' }, later);
    expect([store.push.userCount('idp'), store.push.groupCount('idp')]).toEqual([7, 7]);
    // replaced in the millisecond it was made: it cannot be told from one added, and is forgotten as one
    const other2 = new Database(path);
    other2.prepare(`DELETE FROM push_users WHERE id = 'x'`).run();
    other2.close();
    store.push.putUser('idp', { id: 'u9', userName: 'again', active: true, resource: {} }, later);
    expect(store.push.userCount('idp')).toBe(6);
    store.close();
  });
});
