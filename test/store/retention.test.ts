import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { tempDbPaths } from '../helpers/temp-db.js';
import { DAY, heldBackPlan, POLICY } from '../helpers/retention.js';

describe('retention', () => {
  const dbPath = tempDbPaths('convsync-retention-');

  it('never prunes a pending op, a run awaiting approval or the newest quarantined run; prunes by age too, and the file gives space back', () => {
    const path = dbPath();
    const store = Store.open(path);
    const held = store.runs.start('sync');
    store.runs.finish(held, {
      result: 'quarantined',
      exitCode: 3,
      summary: { plan: { quarantined: true } },
      plan: { ...heldBackPlan(1), summary: { quarantined: true } },
    });
    const heldScoped = store.runs.start('sync', { scoped: true });
    store.runs.finish(heldScoped, { result: 'quarantined', exitCode: 3, summary: { plan: {} }, plan: heldBackPlan(2) });
    store.guards.recordHeld(heldScoped, [{ op: 'remove', key: 'idp:team-ops' }]);
    // a later quarantined run: the newest, so its plan is kept too
    const newestHeld = store.runs.start('sync');
    store.runs.finish(newestHeld, { result: 'quarantined', exitCode: 3, summary: { plan: {} }, plan: heldBackPlan(3) });
    // a dry run that would have held removals back holds nothing: it takes no protection from the sync
    const dry = store.runs.start('dry-run');
    store.runs.finish(dry, { result: 'quarantined', exitCode: 3, summary: { plan: {} }, plan: heldBackPlan(4) });
    const crashed = store.runs.start('sync');
    store.journal.pending(crashed, { op: 'add', key: 'k', name: 'K', conversationId: 'c', members: ['u'], reason: 'r' });
    store.runs.finish(crashed, { result: 'error', exitCode: 1, summary: null });
    const ids: number[] = [];
    for (let i = 0; i < 400; i++) {
      const id = store.runs.start('sync');
      store.runs.finish(id, { result: 'ok', exitCode: 0, summary: { plan: {} }, plan: { ...heldBackPlan(i), warnings: [`run ${i}`] } });
      ids.push(id);
    }
    store.users.cacheIdentities(new Map([['fresh', 'u-fresh']]));
    store.close();

    // age: the first 300 runs (and an identity look-up) are 100 days old
    const db = new Database(path);
    const old = new Date(Date.now() - 100 * DAY).toISOString();
    db.prepare(`UPDATE runs SET started_at = ? WHERE id <= ?`).run(old, ids[299]!);
    db.prepare(`INSERT OR REPLACE INTO identity_cache (lookup, backend_user_id, resolved_at) VALUES ('stale', 'u', ?)`).run(old);
    db.close();

    const reopened = Store.open(path);
    const before = reopened.retention.bytes();
    const report = reopened.retention.prune({ ...POLICY, plansMaxCount: 50 });
    // the first (quarantined, not the newest) run and the dry run go; the one awaiting approval, the crashed one and the newest quarantined stay
    expect(report.runs).toBe(300 + 2);
    expect(report.identity).toBe(1);
    expect(reopened.runs.plan(held)).toBeUndefined();
    expect(reopened.runs.plan(heldScoped)).toEqual(heldBackPlan(2));
    expect(reopened.runs.plan(newestHeld)).toEqual(heldBackPlan(3));
    expect(reopened.users.cachedIdentities(['fresh', 'stale'], new Date(0).toISOString())).toEqual(new Map([['fresh', 'u-fresh']]));
    expect(reopened.journal.pendingRows()).toHaveLength(1);
    expect(reopened.runs.plan(ids[399]!)).toBeDefined();
    expect(reopened.runs.plan(ids[300]!)).toBeUndefined();
    expect(report.freedBytes).toBeGreaterThan(0);
    expect(reopened.retention.bytes()).toBeLessThan(before);
    reopened.close();
  });

  it('keeps the scoped runs of the guard window however many there are: their removals still count', () => {
    const store = Store.open(dbPath());
    for (let i = 0; i < 150; i++) {
      const id = store.runs.start('sync', { scoped: true });
      const j = store.journal.pending(id, { op: 'remove', key: `k${i}`, name: 'K', conversationId: `c${i}`, members: ['u'], reason: 'r' });
      store.journal.done(j, { kind: 'removed', conversationId: `c${i}`, members: ['u'] });
      store.runs.finish(id, { result: 'ok', exitCode: 0, summary: null });
    }
    const since = new Date(Date.now() - 3_600_000).toISOString();
    expect(store.guards.scopedChangesSince(since).removals).toBe(150);
    store.retention.prune({ ...POLICY, runsMaxCount: 100, plansMaxCount: 10 });
    expect(store.guards.scopedChangesSince(since).removals).toBe(150);
    store.close();
  });
  it('reuses the space a few megabytes of rewrites free, and gives it back once it is a quarter of the file', () => {
    const store = Store.open(dbPath());
    const kept = (mb: number) => ({ digest: `d${mb}`, bytes: Buffer.alloc(mb * 2 ** 20, mb), elements: new Int32Array(2) });
    store.reads.bytes.put('big', kept(8));
    store.reads.bytes.put('churn', kept(1));
    store.reads.bytes.put('churn', kept(2));
    const bytes = store.retention.bytes();
    // about 1 MB free of some 11: left for the next writes
    expect(store.retention.prune({ ...POLICY }).freedBytes).toBe(0);
    expect(store.retention.bytes()).toBe(bytes);
    store.reads.bytes.put('churn', kept(1));
    expect(store.retention.bytes()).toBe(bytes);
    // 8 MB of 11 free: given back
    store.reads.bytes.put('big', undefined);
    expect(store.retention.prune({ ...POLICY }).freedBytes).toBeGreaterThan(7 * 2 ** 20);
    expect(store.reads.bytes.get('churn')!.bytes.equals(kept(1).bytes)).toBe(true);
    store.close();
  });
});
