import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { tempDbPaths } from '../helpers/temp-db.js';
import { heldBackPlan, POLICY } from '../helpers/retention.js';

describe('retention over a year', () => {
  const dbPath = tempDbPaths('convsync-retention-');

  // about 105,000 runs written through the store: the slowest unit test (30–80 s on two cores)
  it('a year of five-minute runs with a held-back group stays bounded (runs by count, one copy of a repeated plan)', { timeout: 300_000 }, () => {
    const path = dbPath();
    const store = Store.open(path);
    const fileBytes = () => statSync(path).size + (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0);
    const sizes: number[] = [];
    const runsPerDay = 288;
    for (let day = 0; day < 365; day++) {
      const plan = heldBackPlan(day);
      for (let i = 0; i < runsPerDay; i++) {
        const id = store.runs.start('sync');
        if (i % 12 === 0) {
          // hourly some work: ops journaled and done, and a drift refresh's findings
          const j = store.journal.pending(id, {
            op: 'add',
            key: 'idp:team-eng',
            name: 'Team eng',
            conversationId: 'c-2',
            members: ['u-1', 'u-2'],
            reason: 'group team-eng',
          });
          store.journal.done(j, { kind: 'added', conversationId: 'c-2', members: ['u-1', 'u-2'] });
        }
        store.runs.finish(id, { result: 'ok', exitCode: 0, summary: { plan: plan.summary }, plan });
      }
      // pruned once a day here (convsync prunes after every run, which keeps it smaller still)
      store.retention.prune(POLICY);
      sizes.push(fileBytes());
    }
    const runs = store.runs.recent(20_000);
    expect(runs).toHaveLength(10_000);
    // the plan is readable from every run that keeps one, and the newest run's plan is today's
    expect(store.runs.plan(runs[0]!.id)).toEqual(heldBackPlan(364));
    expect(store.runs.plan(runs[499]!.id)).toBeDefined();
    expect(store.runs.plan(runs[600]!.id)).toBeUndefined();
    const at60 = sizes[59]!;
    const atYear = sizes[364]!;
    // bounded: the file after a year is no larger than after two months (give 10% for page layout)
    expect(atYear).toBeLessThan(at60 * 1.1);
    expect(atYear).toBeLessThan(16 * 1024 * 1024);
    store.close();
  });
});
