import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/migrations/index.js';
import { Store } from '../../src/store/store.js';

const dbPath = () => join(mkdtempSync(join(tmpdir(), 'convsync-store-')), 'nested', 'convsync.db');

describe('store', () => {
  it('creates the file, migrates to the latest version, and runs in WAL mode', () => {
    const path = dbPath();
    const store = Store.open(path);
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    store.close();
    const db = new Database(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all();
    expect(tables).toEqual([
      'bindings',
      'drift',
      'gone',
      'group_parts',
      'group_prints',
      'group_state',
      'held_ops',
      'identity_cache',
      'journal',
      'leavers',
      'member_origins',
      'member_sets',
      'meta',
      'push_groups',
      'push_members',
      'push_rendered',
      'push_user_emails',
      'push_users',
      'refused_users',
      'runs',
      'saml_assertions',
      'saml_groups',
      'saml_logins',
      'saml_requests',
      'source_read_bytes',
      'source_read_groups',
      'source_read_users',
      'source_reads',
      'source_state',
      'source_versions',
      'user_ids',
      'user_ids_epoch',
    ]);
    // an anonymous GET /saml/login adds a request and clears the expired ones: by an index, never by reading them all
    for (const table of ['saml_requests', 'saml_assertions']) {
      const plan = db.prepare(`EXPLAIN QUERY PLAN DELETE FROM ${table} WHERE expires_at <= ?`).all('2026-01-01') as { detail: string }[];
      expect(plan.map((p) => p.detail).join('; ')).toMatch(new RegExp(`^SEARCH ${table} USING (COVERING )?INDEX ${table}_expiry \\(expires_at<\\?\\)$`));
    }
    db.close();
  });

  it('keeps the places of kept bytes little-endian, whatever the machine, and reads them back', () => {
    const path = dbPath();
    const store = Store.open(path);
    store.reads.bytes.put('dir', { digest: 'd', bytes: Buffer.from('[{"id":"a"}]'), elements: Int32Array.from([1, 11, 256, 65_536]) });
    const db = new Database(path, { readonly: true });
    const blob = db.prepare(`SELECT elements FROM source_read_bytes WHERE source = 'dir'`).pluck().get() as Buffer;
    db.close();
    expect([...blob]).toEqual([1, 0, 0, 0, 11, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]);
    expect([...store.reads.bytes.get('dir')!.elements]).toEqual([1, 11, 256, 65_536]);
    store.close();
  });

  it('refuses a database from a newer convsync', () => {
    const path = dbPath();
    Store.open(path).close();
    const db = new Database(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => Store.open(path)).toThrow(/newer than this convsync understands/);
  });

  it('journals an op pending, then done together with its snapshot change', () => {
    const store = Store.open(dbPath());
    const run = store.runs.start('sync');
    const op = {
      op: 'create' as const,
      key: 'group:corp:g1',
      name: 'Team a',
      members: ['u1', 'u2'],
      groups: ['corp:g1'],
      onGroupRemoved: 'keep' as const,
      reason: 'r',
    };
    const id = store.journal.pending(run, op);
    expect(store.journal.pendingRows().map((r) => r.id)).toEqual([id]);
    expect(store.loadSnapshot().conversations).toEqual([]);
    store.journal.done(id, {
      kind: 'created',
      key: op.key,
      conversationId: 'c1',
      name: 'Team a',
      ownerId: 'convsync',
      backend: 'wire',
      members: ['u1', 'u2'],
      external: ['x'],
      groups: ['corp:g1'],
      onGroupRemoved: 'keep',
    });
    expect(store.journal.pendingRows()).toEqual([]);
    expect(store.loadSnapshot().conversations.map((c) => ({ ...c, members: c.members.toRecord() }))).toEqual([
      {
        key: 'group:corp:g1',
        conversationId: 'c1',
        ownerId: 'convsync',
        name: 'Team a',
        members: { u1: 'convsync', u2: 'convsync', x: 'external' },
        groups: ['corp:g1'],
        onGroupRemoved: 'keep',
      },
    ]);

    // a member added by hand keeps its origin when convsync later "adds" it too
    store.journal.done(store.journal.pending(run, { ...op, op: 'add', conversationId: 'c1', members: ['x', 'u3'] } as never), {
      kind: 'added',
      conversationId: 'c1',
      members: ['x', 'u3'],
    });
    expect(store.loadSnapshot().conversations[0]!.members.toRecord()).toEqual({ u1: 'convsync', u2: 'convsync', u3: 'convsync', x: 'external' });

    const failed = store.journal.pending(run, { op: 'rename', key: op.key, name: 'n', conversationId: 'c1', from: 'a', to: 'b', reason: 'r' });
    store.journal.failed(failed, { kind: 'permanent', label: 'action-denied', message: 'no' });
    expect(store.journal.recentFailures(5)[0]).toMatchObject({ status: 'failed', errorLabel: 'action-denied' });

    store.journal.done(store.journal.pending(run, { op: 'unbind', key: op.key, name: 'n', conversationId: 'c1', reason: 'gone' }), {
      kind: 'unbound',
      key: op.key,
    });
    expect(store.loadSnapshot().conversations).toEqual([]);
    expect(store.bindingByConversation('c1')).toEqual({ key: op.key, state: 'unbound' });
    store.runs.finish(run, { result: 'ok', exitCode: 0, summary: { plan: {} } });
    expect(store.runs.recent(1)[0]).toMatchObject({ id: run, mode: 'sync', result: 'ok', exitCode: 0 });
    store.close();
  });

  it('moves the members of a store from before numbered members (schema 6) into member sets', () => {
    const path = dbPath();
    mkdirSync(dirname(path), { recursive: true });
    // the file as schema 6 left it, with members as one row each
    const db = new Database(path);
    for (const migration of MIGRATIONS.slice(0, 6)) db.exec(migration);
    const t = new Date().toISOString();
    const bind = db.prepare(
      `INSERT INTO bindings (key, conversation_id, owner_id, backend, name, created_at, updated_at) VALUES (?, ?, 'convsync', 'wire', ?, ?, ?)`,
    );
    bind.run('a', 'c-a', 'A', t, t);
    bind.run('b', 'c-b', 'B', t, t);
    const member = db.prepare(`INSERT INTO members VALUES (?, ?, ?, ?)`);
    for (const [c, u, o] of [
      ['c-a', 'u2', 'convsync'],
      ['c-a', 'u1', 'convsync'],
      ['c-a', 'hand', 'external'],
      ['c-b', 'u2', 'convsync'],
    ])
      member.run(c, u, o, t);
    db.pragma('user_version = 6');
    db.close();

    const store = Store.open(path);
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    const snapshot = store.loadSnapshot();
    expect(Object.fromEntries(snapshot.conversations.map((c) => [c.key, c.members.toRecord()]))).toEqual({
      a: { hand: 'external', u1: 'convsync', u2: 'convsync' },
      b: { u2: 'convsync' },
    });
    // one number per user, shared by the conversations
    expect(snapshot.users!.size).toBe(4);
    store.close();
  });

  it('forgets the user numbers a failed write gave: a rolled-back number given again to someone else confuses no one', () => {
    const store = Store.open(dbPath());
    const run = store.runs.start('sync');
    const op = { op: 'create' as const, key: 'k', name: 'n', members: [], groups: ['s:g'], onGroupRemoved: 'keep' as const, reason: 'r' };
    store.journal.done(store.journal.pending(run, op), {
      kind: 'created',
      key: 'k',
      conversationId: 'c',
      name: 'n',
      ownerId: 'o',
      backend: 'wire',
      members: ['u1'],
      groups: ['s:g'],
      onGroupRemoved: 'keep',
    });
    // the drift log refers to a run that does not exist: the whole refresh is rolled back, "newbie"'s number with it
    expect(() => store.drift.apply(999, [{ key: 'k', conversationId: 'c', added: ['newbie'], left: [] }])).toThrow(/FOREIGN KEY/);
    const add = (members: string[]) =>
      store.journal.done(store.journal.pending(run, { op: 'add', key: 'k', name: 'n', conversationId: 'c', members, reason: 'r' }), {
        kind: 'added',
        conversationId: 'c',
        members,
      });
    add(['other']);
    add(['newbie']);
    expect(store.loadSnapshot().conversations[0]!.members.toRecord()).toEqual({ u1: 'convsync', other: 'convsync', newbie: 'convsync' });
    store.close();
  });

  it('takes the number another writer gave an id since its own cache was read', () => {
    const path = dbPath();
    const [a, b] = [Store.open(path), Store.open(path)];
    const op = { op: 'create' as const, key: 'k', name: 'n', members: [], groups: ['s:g'], onGroupRemoved: 'keep' as const, reason: 'r' };
    const create = (s: Store, key: string, conversationId: string, members: string[]) =>
      s.journal.done(s.journal.pending(s.runs.start('sync'), { ...op, key }), {
        kind: 'created',
        key,
        conversationId,
        name: 'n',
        ownerId: 'o',
        backend: 'wire',
        members,
        groups: ['s:g'],
        onGroupRemoved: 'keep',
      });
    create(a, 'k1', 'c1', ['u1']);
    create(b, 'k2', 'c2', ['u2']);
    create(a, 'k3', 'c3', ['u2', 'u3']);
    const snapshot = a.loadSnapshot();
    expect(snapshot.conversations.map((c) => c.members.ids)).toEqual([['u1'], ['u2'], ['u2', 'u3']]);
    expect(snapshot.users!.size).toBe(4);
    a.close();
    b.close();
  });

  it('rewrites stored ids into the one form once: merged members keep who added them, leavers and lookups follow', () => {
    const store = Store.open(dbPath());
    const run = store.runs.start('sync');
    const op = { op: 'create' as const, key: 'k', name: 'n', members: [], groups: ['s:g'], onGroupRemoved: 'keep' as const, reason: 'r' };
    // an earlier version kept one person twice: as `uuid@own` (added by convsync) and as `uuid` (found by hand)
    store.journal.done(store.journal.pending(run, op), {
      kind: 'created',
      key: 'k',
      conversationId: 'c',
      name: 'n',
      ownerId: 'o',
      backend: 'wire',
      members: ['AA@own', 'bb'],
      external: ['aa', 'CC@other'],
      groups: ['s:g'],
      onGroupRemoved: 'keep',
    });
    store.drift.apply(run, [{ key: 'k', conversationId: 'c', added: [], left: ['bb'] }]);
    store.users.cacheIdentities(new Map([['handle:x', 'DD@own']]));
    const canonical = (id: string) => {
      const [u, d] = id.toLowerCase().split('@');
      return d === undefined || d === 'own' ? u! : `${u}@${d}`;
    };
    expect(store.users.canonicalizeUserIds('wire:own', canonical)).toBeGreaterThan(0);
    const conv = store.loadSnapshot().conversations[0]!;
    expect(conv.members.toRecord()).toEqual({ aa: 'convsync', 'cc@other': 'external' });
    expect(conv.leavers).toEqual(['bb']);
    expect(store.users.cachedIdentities(['handle:x'], '1970-01-01T00:00:00Z').get('handle:x')).toBe('dd');
    // once per form
    expect(store.users.canonicalizeUserIds('wire:own', () => 'x')).toBe(0);
  });

  it('a person added by hand under the old id form stays added by hand when the forms merge', () => {
    const store = Store.open(dbPath());
    const run = store.runs.start('sync');
    const created = (key: string, conversationId: string, members: string[], external: string[]) =>
      store.journal.done(store.journal.pending(run, { op: 'create', key, name: key, members, groups: ['s:g'], onGroupRemoved: 'keep', reason: 'r' }), {
        kind: 'created',
        key,
        conversationId,
        name: key,
        ownerId: 'o',
        backend: 'wire',
        members,
        external,
        groups: ['s:g'],
        onGroupRemoved: 'keep',
      });
    created('k1', 'c1', ['AA@own'], []);
    created('k2', 'c2', [], ['aa']);
    store.users.canonicalizeUserIds('wire:own', (id) => id.toLowerCase().replace(/@own$/, ''));
    const byKey = new Map(store.loadSnapshot().conversations.map((c) => [c.key, c.members.toRecord()]));
    expect(byKey.get('k1')).toEqual({ aa: 'convsync' });
    expect(byKey.get('k2')).toEqual({ aa: 'external' });
  });

  it('a conversation made again for a key keeps its leavers, and the old one its own row', () => {
    const store = Store.open(dbPath());
    const run = store.runs.start('sync');
    const op = { op: 'create' as const, key: 'k', name: 'n', members: [], groups: ['s:g'], onGroupRemoved: 'keep' as const, reason: 'r' };
    store.journal.done(store.journal.pending(run, op), {
      kind: 'created',
      key: 'k',
      conversationId: 'old',
      name: 'n',
      ownerId: 'o',
      backend: 'wire',
      members: ['u1', 'u2'],
      groups: ['s:g'],
      onGroupRemoved: 'keep',
    });
    store.drift.apply(run, [{ key: 'k', conversationId: 'old', added: [], left: ['u2'] }]);
    store.journal.done(store.journal.pending(run, op), {
      kind: 'created',
      key: 'k',
      conversationId: 'new',
      name: 'n',
      ownerId: 'o',
      backend: 'wire',
      members: ['u1'],
      groups: ['s:g'],
      onGroupRemoved: 'keep',
    });
    expect(store.loadSnapshot().conversations.map((c) => [c.conversationId, c.leavers])).toEqual([['new', ['u2']]]);
    expect(store.bindingByConversation('old')).toMatchObject({ key: 'replaced:k:old', state: 'deleted' });
  });

  it('records group sizes for the empty-group guard', () => {
    const store = Store.open(dbPath());
    store.guards.recordGroupSizes([{ key: 'corp:g1', displayName: 'a', size: 300 }]);
    store.guards.recordGroupSizes([{ key: 'corp:g1', displayName: 'a', size: 299 }]);
    expect(store.guards.groupSizes(['corp:g1'])).toEqual(new Map([['corp:g1', 299]]));
    store.guards.recordGroupSizes([{ key: 'corp:g2', displayName: 'b', size: 7 }]);
    expect(store.guards.groupSizes(['corp:g2', 'corp:none'])).toEqual(new Map([['corp:g2', 7]]));
    expect(store.guards.groupSizes([])).toEqual(new Map());
    store.close();
  });
});
