import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeIds, encodeIds, FEED_TRIGGERS } from '../../src/store/source-reads.js';
import { Store } from '../../src/store/store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function openStore() {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-reads-'));
  dirs.push(dir);
  return { store: Store.open(join(dir, 'db.sqlite')), path: join(dir, 'db.sqlite') };
}

const group = (id: string, members: string[], extra: { nested?: string[]; data?: string } = {}) => ({ id, displayName: `team-${id}`, members, ...extra });

describe('source reads (what each source last read)', () => {
  it('reads the stored group heads from one index in id order, never the rows with their member lists', () => {
    const { store, path } = openStore();
    store.reads.replace(
      'corp',
      { groups: [group('g2', ['u1'], { nested: ['g1'], data: '{"a":1}' }), group('g1', ['u2'])], users: [] },
      { at: 't', cursor: 'c' },
    );
    expect(store.reads.groupHeads('corp')).toEqual([
      { id: 'g1', displayName: 'team-g1' },
      { id: 'g2', displayName: 'team-g2', nested: ['g1'], data: '{"a":1}' },
    ]);
    store.close();
    const text = readFileSync(new URL('../../src/store/source-reads.ts', import.meta.url), 'utf8');
    const heads = /groupHeads\(source: string\)[^`]*`([^`]+)`/.exec(text)?.[1];
    expect(heads).toMatch(/^SELECT .* FROM source_read_groups/);
    const db = new Database(path);
    const plan = db.prepare(`EXPLAIN QUERY PLAN ${heads!}`).all('corp') as { detail: string }[];
    db.close();
    expect(plan.map((p) => p.detail)).toEqual(['SEARCH source_read_groups USING COVERING INDEX source_read_group_heads (source=?)']);
  });

  it('replaces a full read and gives it back as stored: groups in id order, nested members, opaque data, users once', () => {
    const { store } = openStore();
    expect(store.reads.state('corp')).toBeUndefined();
    store.reads.replace(
      'corp',
      {
        groups: [group('g2', ['u1', 'u2'], { nested: ['g1'], data: '{"listed":true}' }), group('g1', [])],
        users: [
          { id: 'u1', data: '{"userName":"ann"}' },
          { id: 'u2', data: '{}' },
        ],
      },
      { at: '2026-01-01T00:00:00.000Z', cursor: 'c1' },
    );
    expect(store.reads.groups('corp')).toEqual([group('g1', []), group('g2', ['u1', 'u2'], { nested: ['g1'], data: '{"listed":true}' })]);
    expect(store.reads.users('corp')).toEqual(
      new Map([
        ['u1', '{"userName":"ann"}'],
        ['u2', '{}'],
      ]),
    );
    expect(store.reads.state('corp')).toEqual({ cursor: 'c1', fingerprint: null, fullReadAt: '2026-01-01T00:00:00.000Z', readAt: '2026-01-01T00:00:00.000Z' });
    expect(store.reads.versions().get('corp')).toBe(1);

    // a second full read replaces everything, including what it no longer has
    store.reads.replace('corp', { groups: [group('g3', ['u9'])], users: [{ id: 'u9', data: '{}' }] }, { at: '2026-01-02T00:00:00.000Z', cursor: 'c2' });
    expect(store.reads.groups('corp').map((g) => g.id)).toEqual(['g3']);
    expect([...store.reads.users('corp').keys()]).toEqual(['u9']);
    expect(store.reads.versions().get('corp')).toBe(2);
  });

  it('applies an incremental read: changed groups and users replaced whole, deletions gone, the full read time kept; no change, no new version', () => {
    const { store } = openStore();
    store.reads.replace(
      'corp',
      {
        groups: [group('g1', ['u1', 'u2']), group('g2', ['u2'])],
        users: [
          { id: 'u1', data: 'a' },
          { id: 'u2', data: 'b' },
        ],
      },
      { at: '2026-01-01T00:00:00.000Z', cursor: 'c1' },
    );
    store.reads.apply(
      'corp',
      {
        groups: [group('g1', ['u3']), group('g4', [])],
        deletedGroups: ['g2'],
        users: [
          { id: 'u3', data: 'c' },
          { id: 'u1', data: 'a2' },
        ],
        deletedUsers: ['u2'],
      },
      { at: '2026-01-01T01:00:00.000Z', cursor: 'c2' },
    );
    expect(store.reads.groups('corp')).toEqual([group('g1', ['u3']), group('g4', [])]);
    expect(store.reads.users('corp')).toEqual(
      new Map([
        ['u1', 'a2'],
        ['u3', 'c'],
      ]),
    );
    expect(store.reads.state('corp')).toMatchObject({ cursor: 'c2', fullReadAt: '2026-01-01T00:00:00.000Z', readAt: '2026-01-01T01:00:00.000Z' });
    expect(store.reads.versions().get('corp')).toBe(2);

    store.reads.apply('corp', { groups: [], deletedGroups: [], users: [], deletedUsers: [] }, { at: '2026-01-01T02:00:00.000Z', cursor: 'c3' });
    expect(store.reads.state('corp')?.cursor).toBe('c3');
    expect(store.reads.versions().get('corp')).toBe(2);
  });

  it('stores nothing of a read that fails part-way, and its cursor does not move', () => {
    const { store } = openStore();
    store.reads.replace('corp', { groups: [group('g1', ['u1'])], users: [{ id: 'u1', data: 'a' }] }, { at: '2026-01-01T00:00:00.000Z', cursor: 'c1' });
    const bad = { id: 'g2', displayName: null as unknown as string, members: [] };
    expect(() =>
      store.reads.apply(
        'corp',
        { groups: [group('g1', []), bad], deletedGroups: [], users: [], deletedUsers: ['u1'] },
        { at: '2026-01-01T01:00:00.000Z', cursor: 'c2' },
      ),
    ).toThrow(/NOT NULL/);
    expect(store.reads.groups('corp')).toEqual([group('g1', ['u1'])]);
    expect([...store.reads.users('corp').keys()]).toEqual(['u1']);
    expect(store.reads.state('corp')?.cursor).toBe('c1');
    expect(store.reads.versions().get('corp')).toBe(1);
  });

  it('marks a source that stores no groups: its fingerprint, a new version only when it read new content', () => {
    const { store } = openStore();
    store.reads.mark('dir', { at: '2026-01-01T00:00:00.000Z', fingerprint: 'f1' }, { full: true, changed: true });
    store.reads.mark('dir', { at: '2026-01-01T00:05:00.000Z', fingerprint: 'f1' }, { full: true, changed: false });
    expect(store.reads.state('dir')).toEqual({ cursor: null, fingerprint: 'f1', fullReadAt: '2026-01-01T00:05:00.000Z', readAt: '2026-01-01T00:05:00.000Z' });
    expect(store.reads.versions().get('dir')).toBe(1);
    store.reads.forget('dir');
    expect(store.reads.state('dir')).toBeUndefined();
    expect(store.reads.versions().get('dir')).toBe(2);
  });

  it('keeps ids with any characters: one a line, or JSON when an id holds a newline', () => {
    for (const ids of [[], ['a'], ['a', 'b c', '[x]', ''], ['x\ny', 'z'], ['\n']]) expect(decodeIds(encodeIds(ids))).toEqual(ids);
    const { store } = openStore();
    store.reads.replace('corp', { groups: [group('g1', ['line\nbreak', 'plain'], { nested: ['[g]'] })], users: [] }, { at: '2026-01-01T00:00:00.000Z' });
    expect(store.reads.groups('corp')[0]).toEqual(group('g1', ['line\nbreak', 'plain'], { nested: ['[g]'] }));
  });

  it('reads some users parsed, in batches, as each row parses alone: any id, any JSON, those not stored left out', () => {
    const { store } = openStore();
    const odd = ['quo"te', 'back\\slash', 'line\nbreak', 'tab\t\u0001', '\u2028sep', 'ünï', '😀', '__proto__', ''];
    const users = [
      // a `__proto__` key in JSON text is a key like any other
      ...odd.map((id, i) => ({ id, data: `{"id":${JSON.stringify(id)},"n":${i},"__proto__":{"x":1},"s":"\u2029\\"\\\\","z":-0}` })),
      // more than one batch of 2,000
      ...Array.from({ length: 4500 }, (_, i) => ({
        id: `u${i}`,
        data: JSON.stringify({ id: `u${i}`, emails: [`u${i}@example.com`], active: i % 2 === 0 }),
      })),
    ];
    store.reads.replace('corp', { groups: [], users }, { at: '2026-01-01T00:00:00.000Z' });
    store.reads.replace('other', { groups: [], users: [{ id: 'u1', data: '{"other":true}' }] }, { at: '2026-01-01T00:00:00.000Z' });
    const asked = [...odd, ...users.slice(odd.length).map((u) => u.id), 'missing', 'u999999'];
    const parsed = store.reads.someUsersParsed('corp', asked);
    const oneByOne = new Map([...store.reads.someUsers('corp', asked)].map(([id, data]) => [id, JSON.parse(data) as unknown]));
    expect(parsed.size).toBe(users.length);
    expect(parsed).toEqual(oneByOne);
    expect(Object.keys(parsed.get('__proto__') as object)).toEqual(['id', 'n', '__proto__', 's', 'z']);
    expect(Object.is((parsed.get('') as { z: number }).z, -0)).toBe(true);
    expect(parsed.get('u1')).toEqual({ id: 'u1', emails: ['u1@example.com'], active: false });
    expect(store.reads.someUsersParsed('corp', [])).toEqual(new Map());
    expect(store.reads.someUsersParsed('corp', ['missing'])).toEqual(new Map());
  });

  it('refuses stored users whose data is not one JSON value each, rather than pair ids with the wrong data', () => {
    const { store } = openStore();
    for (const bad of ['1,2', '{"a":1},"u3",{"evil":true}', '{"a":1},"u1"', '"x"]', '']) {
      const users = [
        { id: 'u1', data: '{"id":"u1"}' },
        { id: 'u2', data: bad },
        { id: 'u3', data: '{"id":"u3"}' },
      ];
      store.reads.replace('corp', { groups: [], users }, { at: '2026-01-01T00:00:00.000Z' });
      expect(() => store.reads.someUsersParsed('corp', ['u1', 'u2', 'u3']), bad).toThrow(/./);
      // alone, the others read as they are
      expect(store.reads.someUsersParsed('corp', ['u1', 'u3'])).toEqual(
        new Map([
          ['u1', { id: 'u1' }],
          ['u3', { id: 'u3' }],
        ]),
      );
    }
  });

  it('bumps the version of a store-fed source on every write to its tables, by triggers; a lost trigger is noticed', () => {
    const { store, path } = openStore();
    const version = (s: string) => store.reads.versions().get(s) ?? 0;
    const t = '2026-01-01T00:00:00.000Z';
    store.push.putGroup('entra', { id: 'g1', displayName: 'team-a' }, t);
    const afterGroup = version('entra');
    expect(afterGroup).toBeGreaterThan(0);
    store.push.addMembers('entra', 'g1', ['u1', 'u2']);
    const afterAdd = version('entra');
    expect(afterAdd).toBeGreaterThan(afterGroup);
    store.push.removeMembers('entra', 'g1', ['u1']);
    expect(version('entra')).toBeGreaterThan(afterAdd);
    const beforeDelete = version('entra');
    store.push.deleteGroup('entra', 'g1');
    expect(version('entra')).toBeGreaterThan(beforeDelete);
    expect(version('other')).toBe(0);
    expect(store.reads.feedTriggersIntact()).toBe(true);
    expect(FEED_TRIGGERS).toHaveLength(15);

    // a table rebuilt by a later migration loses its triggers: the store says so
    store.close();
    const db = new Database(path);
    db.exec(`DROP TRIGGER push_members_del_version`);
    db.close();
    const reopened = Store.open(path);
    expect(reopened.reads.feedTriggersIntact()).toBe(false);
    reopened.close();
  });

  it('keeps the stamp of the last plan, and tells what happened in the store since', () => {
    const { store } = openStore();
    expect(store.reads.planStamp()).toBeUndefined();
    const r1 = store.runs.start('sync');
    store.runs.finish(r1, { result: 'ok', exitCode: 0, summary: null });
    const stamp = { runId: r1, at: '2026-01-01T00:00:00.000Z', config: 'c', journalMax: 0, refreshRun: 0, sources: { dir: 1 }, snapshotDigest: 'd' };
    store.reads.savePlanStamp(stamp);
    expect(store.reads.planStamp()).toEqual(stamp);
    expect(store.reads.storeMarks()).toEqual({ journalMax: 0, refreshRun: 0, held: 0 });

    const dry = store.runs.start('dry-run');
    store.runs.finish(dry, { result: 'failed', exitCode: 1, summary: null });
    const r2 = store.runs.start('sync', { scoped: true });
    store.runs.finish(r2, { result: 'changes', exitCode: 2, summary: null });
    const now = store.runs.start('sync');
    expect(store.reads.unfinishedRunsBetween(r1, now)).toBe(0);
    store.runs.finish(now, { result: 'unchanged', exitCode: 0, summary: null });
    const failed = store.runs.start('apply');
    store.runs.finish(failed, { result: 'failed', exitCode: 1, summary: null });
    store.runs.start('approve'); // never finished: a crash
    const later = store.runs.start('sync');
    expect(store.reads.unfinishedRunsBetween(r1, later)).toBe(2);

    const op = { op: 'remove' as const, key: 'k', name: 'n', conversationId: 'c', members: ['x'], reason: 'r' };
    store.journal.pending(later, op);
    store.guards.recordHeld(later, [op]);
    expect(store.reads.storeMarks()).toMatchObject({ journalMax: 1, held: 1 });
    store.reads.savePlanStamp(undefined);
    expect(store.reads.planStamp()).toBeUndefined();
  });

  it('holds a read of 100,000 users, 10,000 groups and a million memberships, and gives it back exactly', () => {
    const { store } = openStore();
    const users = Array.from({ length: 100_000 }, (_, i) => ({ id: `u${i}`, data: JSON.stringify({ userName: `user${i}`, externalId: `x-${i}` }) }));
    let seed = 7;
    const next = () => (seed = (seed * 48271) % 2147483647);
    const groups = Array.from({ length: 10_000 }, (_, g) =>
      group(
        `g${String(g).padStart(5, '0')}`,
        Array.from({ length: 100 }, () => `u${next() % 100_000}`),
      ),
    );
    store.reads.replace('corp', { groups, users }, { at: '2026-01-01T00:00:00.000Z', cursor: 'c' });
    const back = store.reads.groups('corp');
    expect(back).toHaveLength(10_000);
    expect(back.reduce((n, g) => n + g.members.length, 0)).toBe(1_000_000);
    expect(back[1234]).toEqual(groups[1234]);
    expect(back.at(-1)).toEqual(groups.at(-1));
    const backUsers = store.reads.users('corp');
    expect(backUsers.size).toBe(100_000);
    expect(backUsers.get('u99999')).toBe(users[99_999]!.data);
  });
});
