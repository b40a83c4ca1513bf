import { describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { tempDbPaths } from '../helpers/temp-db.js';
import { POLICY } from '../helpers/retention.js';

describe('retention and drift.refreshEveryRuns', () => {
  const dbPath = tempDbPaths('convsync-retention-refresh-');

  it('sync runs pruned since the last refresh still count towards the next one', () => {
    const store = Store.open(dbPath());
    const refreshed = store.runs.start('sync');
    store.drift.apply(refreshed, []);
    store.runs.finish(refreshed, { result: 'ok', exitCode: 0, summary: null });
    for (let i = 0; i < 150; i++) {
      const id = store.runs.start('sync');
      store.runs.finish(id, { result: 'ok', exitCode: 0, summary: null });
    }
    expect(store.drift.runsSinceRefresh()).toBe(150);
    // retention.runs.maxCount 100 (its least) with drift.refreshEveryRuns 120: the refresh must still come
    store.retention.prune({ ...POLICY, runsMaxCount: 100, plansMaxCount: 100 });
    expect(store.drift.runsSinceRefresh()).toBe(150);
    const next = store.runs.start('sync');
    store.runs.finish(next, { result: 'ok', exitCode: 0, summary: null });
    expect(store.drift.runsSinceRefresh()).toBe(151);
    // a refresh starts the count again
    store.drift.apply(next, []);
    expect(store.drift.runsSinceRefresh()).toBe(0);
    store.close();
  });
});
