import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/sandbox/random.js';
import type { Snapshot } from '../../src/plan/types.js';
import { Store } from '../../src/store/store.js';
import { rawBindings } from '../helpers/raw-bindings.js';

/** what a plan takes from a snapshot, member lists aside (read on demand, from the same rows) */
function view(s: Snapshot, only?: ReadonlySet<string>) {
  const pick = (cs: Snapshot['conversations'] | undefined) =>
    (cs ?? [])
      .filter((c) => !only || only.has(c.key))
      .map((c) => ({ key: c.key, conversationId: c.conversationId, name: c.name, groups: c.groups, leavers: c.leavers, members: c.members.toRecord() }));
  return { conversations: pick(s.conversations), unbound: pick(s.unbound), gone: s.gone };
}

describe('a snapshot of only some conversations', () => {
  it('is the whole snapshot narrowed to them, with a conversation let go under one key and bound under another left out', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'convsync-snapshot-')), 'convsync.db');
    const store = Store.open(path);
    const t = '2026-01-01T00:00:00Z';
    const rows = rawBindings(path, t);
    const { db } = rows;
    const random = seededRandom(41);
    const bound = new Set<string>();
    const keys: string[] = [];
    for (let i = 0; i < 40; i++) {
      const conversation = `c${Math.floor(random() * 15)}`;
      // one bound row per conversation at most (the store's unique index): the others are let go or deleted
      const state = !bound.has(conversation) && random() < 0.6 ? 'bound' : random() < 0.8 ? 'unbound' : 'deleted';
      if (state === 'bound') bound.add(conversation);
      rows.insert(`group:dir:g${i}`, conversation, `Team ${i}`, JSON.stringify([`dir:g${i}`]), state);
      keys.push(`group:dir:g${i}`);
    }
    for (let u = 0; u <= 15; u++) db.prepare(`INSERT INTO user_ids (ref, user_id) VALUES (?, ?)`).run(u + 1, `u${u}`);
    for (let c = 0; c < 15; c++) {
      if (random() < 0.5) db.prepare(`INSERT INTO leavers (conversation_id, user_id, left_at) VALUES (?, ?, ?)`).run(`c${c}`, `u${c}`, t);
      db.prepare(`INSERT INTO member_sets (conversation_id, refs) VALUES (?, ?)`).run(`c${c}`, `${c + 1},${c + 2}`);
    }
    db.prepare(`INSERT INTO gone (binding_key, conversation_id, detected_at) VALUES ('group:dir:g3', 'c1', ?)`).run(t);
    // a key and a conversation id with a lone surrogate: stored as it came, read back with U+FFFD
    rows.insert('group:dir:x\ud800', 'c\udc00', 'Odd', '["dir:x\ud800"]', 'bound');
    rows.insert('group:dir:y\ud800', 'c\udc00', 'Odd too', '["dir:y\ud800"]', 'unbound');
    db.close();
    keys.push(
      ...store.bindingGroups
        .all()
        .map((b) => b.key)
        .filter((k) => k.includes('\uFFFD')),
    );
    expect(keys.length).toBe(42);

    const whole = store.loadSnapshot();
    expect(whole.unbound!.length).toBeGreaterThan(3);
    // some conversations let go under one key are bound under another
    expect(new Set(keys.filter((k) => !whole.conversations.some((c) => c.key === k) && !whole.unbound!.some((c) => c.key === k))).size).toBeGreaterThan(3);
    for (let trial = 0; trial < 60; trial++) {
      const only = new Set(keys.filter((k) => random() < (k.includes('\uFFFD') ? 0.1 : 0.3)));
      expect(view(store.loadSnapshot(only)), [...only].join(' ')).toEqual(view(whole, only));
    }
    store.close();
  });

  it('numbers only the ids of the conversations read when they are a small part of the table: others are numbered past it', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'convsync-snapshot-')), 'convsync.db');
    const store = Store.open(path);
    const db = new Database(path);
    const t = '2026-01-01T00:00:00Z';
    for (let u = 1; u <= 100; u++) db.prepare(`INSERT INTO user_ids (ref, user_id) VALUES (?, ?)`).run(u, `u${u}`);
    for (let c = 0; c < 10; c++) {
      db.prepare(
        `INSERT INTO bindings (key, conversation_id, owner_id, backend, name, groups, state, created_at, updated_at) VALUES (?, ?, 'convsync', 'wire', ?, ?, 'bound', ?, ?)`,
      ).run(`group:dir:g${c}`, `c${c}`, `Team ${c}`, JSON.stringify([`dir:g${c}`]), t, t);
      db.prepare(`INSERT INTO member_sets (conversation_id, refs) VALUES (?, ?)`).run(`c${c}`, `${c * 10 + 1},${c * 10 + 2},${c * 10 + 3}`);
    }
    db.prepare(`UPDATE member_sets SET refs = '21,22,23,99' WHERE conversation_id = 'c2'`).run();
    db.prepare(`INSERT INTO member_origins (conversation_id, user_ref, origin) VALUES ('c2', 99, 'external')`).run();
    db.close();
    const part = store.loadSnapshot(new Set(['group:dir:g2']));
    const users = part.users!;
    expect(part.conversations.map((c) => c.members.toRecord())).toEqual([{ u21: 'convsync', u22: 'convsync', u23: 'convsync', u99: 'external' }]);
    // the ids read keep their numbers; an id of the table not read is new to this numbering, past the table
    expect([users.find('u21'), users.find('u99'), users.find('u5')]).toEqual([21, 99, undefined]);
    expect(users.ref('u5')).toBe(101);
    expect(users.ref('u22')).toBe(22);
    expect(users.ref('someone-new')).toBe(102);
    // past a quarter of the table, the whole table is read
    const most = store.loadSnapshot(
      new Set(['group:dir:g1', 'group:dir:g2', 'group:dir:g3', 'group:dir:g4', 'group:dir:g5', 'group:dir:g6', 'group:dir:g7', 'group:dir:g8', 'group:dir:g9']),
    );
    expect(most.users!.find('u5')).toBe(5);
    store.close();
  });
});
