import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expandGroups, type FlatGroup } from '../../src/sources/expand.js';
import type { SourceUser } from '../../src/sources/types.js';

const user = (id: string): SourceUser => ({ id, emails: [], active: true, raw: {} });

/** the users a group reaches, directly or through nested groups, each once */
function reachable(id: string, byId: Map<string, FlatGroup>, users: Set<string>, seen = new Set<string>()): Set<string> {
  const out = new Set<string>();
  seen.add(id);
  for (const m of byId.get(id)!.members) {
    if (users.has(m)) out.add(m);
    else if (byId.has(m) && !seen.has(m)) for (const u of reachable(m, byId, users, seen)) out.add(u);
  }
  return out;
}

describe('expandGroups', () => {
  it('gives each group the users it reaches through nested groups, each once, cycles and repeats included', () => {
    // members drawn from users u0–u5, groups g0–g4 (cycles happen) and unknown x0–x1
    const member = fc.oneof(
      fc.nat(5).map((n) => `u${n}`),
      fc.nat(4).map((n) => `g${n}`),
      fc.nat(1).map((n) => `x${n}`),
    );
    const directory = fc.array(fc.array(member, { maxLength: 8 }), { minLength: 5, maxLength: 5 });
    fc.assert(
      fc.property(directory, (lists) => {
        const groups: FlatGroup[] = lists.map((members, n) => ({ id: `g${n}`, displayName: `G${n}`, members }));
        const ids = new Set(Array.from({ length: 6 }, (_, n) => `u${n}`));
        const users = new Map([...ids].map((id) => [id, user(id)]));
        const byId = new Map(groups.map((g) => [g.id, g]));
        const { groups: out, unknown } = expandGroups('s', groups, users);
        for (const g of out) {
          const got = g.members.map((u) => u.id);
          expect(new Set(got).size).toBe(got.length);
          expect([...got].sort()).toEqual([...reachable(g.id, byId, ids)].sort());
          expect(g.members.every((u) => u === users.get(u.id))).toBe(true);
        }
        const direct = groups.flatMap((g) => g.members.filter((m) => m.startsWith('x')).map((m) => [g.id, m]));
        expect(unknown).toEqual(direct);
      }),
      { seed: 20261122, numRuns: 300 },
    );
  });
});
