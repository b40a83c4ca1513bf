import { afterEach, describe, expect, it } from 'vitest';
import { runOnce } from '../../../src/reconcile/run.js';
import { randomUuid, seededRandom } from '../../../src/sandbox/random.js';
import { harness, opsOf } from './harness.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('a sync over a directory of a file per group, groups nesting groups in other files', () => {
  for (const seed of [21, 22]) {
    it(`leaves nothing a full plan of the same files would do (seed ${seed})`, async () => {
      const t = await harness(
        {
          mappings: [
            { match: { displayName: '^team-(.+)$' }, name: 'Team {1}' },
            { match: { displayName: '^(eng|ops)-(.+)$' }, conversation: 'dept-{1}', name: 'Dept {1}' },
          ],
        },
        0,
        'directory',
      );
      cleanup.push(() => t.close());
      const random = seededRandom(seed);
      const backendIds = Array.from({ length: 30 }, () => randomUuid(random));
      for (const id of backendIds) t.wire.addUser({ id });
      t.users.push(...Array.from({ length: 20 }, (_, i) => ({ id: `u${i}`, userName: `user${i}`, externalId: backendIds[i]!, active: true })));
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
      const names = ['team-a', 'team-b', 'team-c', 'eng-x', 'eng-y', 'ops-x', 'misc-1', 'misc-2'];
      t.groups.push(...names.map((displayName, i) => ({ id: `g${i}`, displayName, members: t.users.filter(() => random() < 0.3).map((u) => u.id) })));
      // nesting: misc groups nest teams, teams nest misc, a cycle
      t.groups[0]!.members.push('g6');
      t.groups[6]!.members.push('g1', 'g7');
      t.groups[7]!.members.push('g6', 'g3');
      t.groups[4]!.members.push('g7');
      t.write();
      expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
      let partials = 0;
      for (let i = 0; i < 30; i++) {
        for (let c = 0; c < 1 + (i % 2); c++) {
          const g = pick(t.groups);
          const k = pick([0, 0, 1, 1, 2, 3]);
          if (k === 0) g.members.push(pick(t.users).id);
          else if (k === 1 && g.members.length > 2) g.members.splice(Math.floor(random() * g.members.length), 1);
          else if (k === 2) g.members.push(pick(t.groups).id);
          else if (k === 3) {
            const ix = g.members.findIndex((m) => m.startsWith('g'));
            if (ix >= 0) g.members.splice(ix, 1);
          }
        }
        t.write();
        await new Promise((r) => setTimeout(r, 5));
        const before = t.app.store.reads.state('dir')!.fullReadAt;
        const sync = await runOnce(t.app, { mode: 'sync' });
        expect(sync.exitCode, JSON.stringify(sync.result?.failed)).toBe(0);
        if (sync.partial && t.app.store.reads.state('dir')!.fullReadAt === before) partials++;
        const full = await runOnce(t.app, { mode: 'plan' });
        expect(opsOf(full.plan.ops), `step ${i} after`).toEqual([]);
      }
      expect(partials).toBeGreaterThan(5);
      expect(t.wire.violations).toEqual([]);
    });
  }
});
