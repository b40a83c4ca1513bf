import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alike, diffRefs, MemberList } from '../../src/members/member-list.js';
import { UserIds } from '../../src/members/user-ids.js';
import { Store } from '../../src/store/store.js';

describe('MemberList and the sorted diff', () => {
  it('answers membership and origin, whatever order the ids came in', () => {
    const list = MemberList.of(['c', 'a', 'b', 'a'], [['b', 'external']]);
    expect(list.ids).toEqual(['a', 'b', 'c']);
    expect(list.size).toBe(3);
    expect([list.has('a'), list.has('b'), list.has('c'), list.has('d'), list.has('')]).toEqual([true, true, true, false, false]);
    expect([list.origin('a'), list.origin('b'), list.origin('z')]).toEqual(['convsync', 'external', undefined]);
    expect(MemberList.fromRecord(list.toRecord()).toRecord()).toEqual({ a: 'convsync', b: 'external', c: 'convsync' });
  });

  it('numbers each id once, and keeps the numbers of a loaded table', () => {
    const users = UserIds.fromRows([
      [2, 'b'],
      [1, 'a'],
      [4, 'd'],
    ]);
    expect([users.find('a'), users.find('b'), users.find('c'), users.find('d')]).toEqual([1, 2, undefined, 4]);
    expect(users.ref('c')).toBe(5);
    expect(users.ref('c')).toBe(5);
    expect(users.name(5)).toBe('c');
    expect(() => users.name(3)).toThrow(/no user id numbered 3/);
  });

  const idLists = fc.uniqueArray(fc.string({ maxLength: 3 }), { maxLength: 30 });

  it('diffRefs of two lists numbered alike is the set difference both ways', () => {
    fc.assert(
      fc.property(idLists, idLists, fc.boolean(), (wanted, current, shared) => {
        const w = MemberList.of(wanted, [], UserIds.empty());
        const c = MemberList.of(current, [], shared ? w.users : UserIds.empty());
        const [a, b] = alike(w, c);
        const { missing, extra } = diffRefs(a.refs, b.refs);
        expect(missing.map((r) => a.users.name(r)).sort()).toEqual(wanted.filter((x) => !current.includes(x)).sort());
        expect(extra.map((r) => b.users.name(r)).sort()).toEqual(current.filter((x) => !wanted.includes(x)).sort());
      }),
      { seed: 20261122, numRuns: 300 },
    );
  });

  it('loads ids that SQLite orders differently from JavaScript (UTF-8 vs UTF-16) and still finds each', () => {
    const store = Store.open(join(mkdtempSync(join(tmpdir(), 'convsync-members-')), 'db.sqlite'));
    const ids = ['\u{1F600}smile', '\uFFFFlast', 'ascii', 'é'];
    const run = store.runs.start('sync');
    const op = { op: 'create' as const, key: 'k', name: 'n', members: [], groups: ['s:g'], onGroupRemoved: 'keep' as const, reason: 'r' };
    store.journal.done(store.journal.pending(run, op), {
      kind: 'created',
      key: 'k',
      conversationId: 'c',
      name: 'n',
      ownerId: 'o',
      backend: 'wire',
      members: ids,
      external: ['hand'],
      groups: ['s:g'],
      onGroupRemoved: 'keep',
    });
    const members = store.loadSnapshot().conversations[0]!.members;
    for (const id of [...ids, 'hand']) expect(members.has(id), id).toBe(true);
    expect(members.origin('hand')).toBe('external');
    expect(members.ids).toEqual([...ids, 'hand'].sort());
    store.close();
  });
});
