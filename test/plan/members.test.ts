import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffSorted, MemberList } from '../../src/plan/members.js';
import { Store } from '../../src/store/store.js';

describe('MemberList and the sorted diff', () => {
  it('answers membership and origin, whatever order the ids came in', () => {
    const list = MemberList.of(['c', 'a', 'b', 'a'], [['b', 'external']]);
    expect(list.ids).toEqual(['a', 'b', 'c']);
    expect([list.has('a'), list.has('b'), list.has('c'), list.has('d'), list.has('')]).toEqual([true, true, true, false, false]);
    expect([list.origin('a'), list.origin('b'), list.origin('z')]).toEqual(['convsync', 'external', undefined]);
    expect(MemberList.fromRecord(list.toRecord()).toRecord()).toEqual({ a: 'convsync', b: 'external', c: 'convsync' });
  });

  it('diffSorted equals the set difference both ways', () => {
    const ids = fc.uniqueArray(fc.string({ maxLength: 3 }), { maxLength: 30 }).map((a) => [...a].sort());
    fc.assert(
      fc.property(ids, ids, (wanted, current) => {
        const { missing, extra } = diffSorted(wanted, current);
        expect(missing).toEqual(wanted.filter((w) => !current.includes(w)));
        expect(extra).toEqual(current.filter((c) => !wanted.includes(c)));
      }),
      { seed: 20261122, numRuns: 300 },
    );
  });

  it('loads ids that SQLite orders differently from JavaScript (UTF-8 vs UTF-16) and still finds each', () => {
    const store = Store.open(join(mkdtempSync(join(tmpdir(), 'convsync-members-')), 'db.sqlite'));
    const ids = ['\u{1F600}smile', '\uFFFFlast', 'ascii', 'é'];
    const run = store.startRun('sync');
    const op = { op: 'create' as const, key: 'k', name: 'n', members: [], groups: ['s:g'], onGroupRemoved: 'keep' as const, reason: 'r' };
    store.journalDone(store.journalPending(run, op), { kind: 'created', key: 'k', conversationId: 'c', name: 'n', ownerId: 'o', backend: 'wire', members: ids, external: ['hand'], groups: ['s:g'], onGroupRemoved: 'keep' });
    const members = store.loadSnapshot().conversations[0]!.members;
    for (const id of [...ids, 'hand']) expect(members.has(id), id).toBe(true);
    expect(members.origin('hand')).toBe('external');
    expect(diffSorted([...ids, 'hand'].sort(), members.ids)).toEqual({ missing: [], extra: [] });
    store.close();
  });
});
