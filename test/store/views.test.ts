import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Plan } from '../../src/plan/types.js';
import { rememberHeld } from '../../src/reconcile/bookkeeping.js';
import { Store } from '../../src/store/store.js';

const open = () => Store.open(join(mkdtempSync(join(tmpdir(), 'convsync-views-')), 'convsync.db'));

/** a plan whose guard held back one removal (what a quarantined run stores) */
const heldPlan = (key: string) => ({
  ops: [],
  blocked: [{ kind: 'guard', why: 'held back by guards', op: { op: 'remove', key, name: 'n', conversationId: 'c', members: ['u1'], reason: 'r' } }],
  warnings: ['guards tripped: 1 removal exceeds maxRemovalsPerRun 0'],
  summary: { quarantined: true },
});

function run(store: Store, opts: { quarantined?: boolean; scoped?: boolean; mode?: 'sync' | 'approve'; approved?: number; key?: string } = {}): number {
  const id = store.runs.start(opts.mode ?? 'sync', { scoped: opts.scoped ?? false });
  const plan = opts.quarantined ? heldPlan(opts.key ?? `k${id}`) : undefined;
  const summary = opts.approved !== undefined ? { approved: opts.approved, released: 1, stale: 0 } : { plan: { quarantined: opts.quarantined ?? false } };
  // the held ops as a sync run keeps them (the status page lists the runs that hold some)
  if (opts.approved === undefined) {
    const kept = (plan ?? { ops: [], blocked: [], warnings: [], summary: {} }) as unknown as Plan;
    rememberHeld(store, id, kept, { scoped: opts.scoped ?? false, allowRemovals: false, complete: true });
  }
  store.runs.finish(id, { result: opts.quarantined ? 'quarantined' : 'ok', exitCode: opts.quarantined ? 3 : 0, summary, plan });
  return id;
}

describe('the status page views', () => {
  it('lists as held back the newest full run a guard quarantined, and scoped runs whose ops are held, until approved or superseded', () => {
    const store = open();
    const first = run(store, { quarantined: true });
    expect(store.views.heldRuns().map((h) => h.run.id)).toEqual([first]);
    // a later full run plans again: the earlier one no longer waits
    run(store);
    expect(store.views.heldRuns()).toEqual([]);

    const full = run(store, { quarantined: true });
    const scoped = run(store, { quarantined: true, scoped: true, key: 'pushed' });
    expect(store.views.heldRuns().map((h) => h.run.id)).toEqual([scoped, full]);
    expect(store.views.heldRuns()[0]!.plan).toMatchObject({ blocked: [{ kind: 'guard', op: { key: 'pushed' } }] });

    // an approve that failed releases nothing; one that went through does
    const failed = store.runs.start('approve');
    store.runs.finish(failed, { result: 'error', exitCode: 1, summary: null, error: 'wire 503' });
    expect(store.views.heldRuns().map((h) => h.run.id)).toEqual([scoped, full]);
    run(store, { mode: 'approve', approved: full });
    expect(store.views.heldRuns().map((h) => h.run.id)).toEqual([scoped]);
    store.guards.releaseHeld({ runId: scoped });
    expect(store.views.heldRuns()).toEqual([]);
    store.close();
  });

  it('says what asked for each run, and counts the calls each run made by op and status', () => {
    const store = open();
    const shell = run(store);
    const before = store.views.lastRunId();
    const id = store.runs.start('sync');
    store.runs.recordTrigger(before, 'push+saml');
    const add = store.journal.pending(id, { op: 'add', key: 'k', name: 'n', conversationId: 'c', members: ['a'], reason: 'r' });
    store.journal.failed(add, { kind: 'permanent', message: 'no' });
    store.journal.pending(id, { op: 'add', key: 'k', name: 'n', conversationId: 'c', members: ['b'], reason: 'r' });
    store.runs.recordTrigger(before, 'schedule');
    const [newest, older] = store.views.runs(5);
    expect(newest).toMatchObject({ id, trigger: 'push+saml', finishedAt: null, ops: { add: { failed: 1, pending: 1 } } });
    expect(older).toMatchObject({ id: shell, trigger: null, ops: {} });
    store.close();
  });

  it('lists conversations with their members, search, and the calls that failed since the last one that worked', () => {
    const store = open();
    const id = store.runs.start('sync');
    const made = (key: string, name: string, conversationId: string, members: string[]) =>
      store.journal.done(store.journal.pending(id, { op: 'create', key, name, members, groups: [`corp:${key}`], onGroupRemoved: 'keep', reason: 'r' }), {
        kind: 'created',
        key,
        conversationId,
        name,
        ownerId: 'convsync',
        backend: 'wire',
        members,
        external: ['hand'],
        groups: [`corp:${key}`],
        onGroupRemoved: 'keep',
      });
    made('eng', 'Team eng', 'c1', ['a', 'b', 'c']);
    made('ops', 'Team ops', 'c2', []);
    const refused = store.journal.pending(id, { op: 'add', key: 'eng', name: 'Team eng', conversationId: 'c1', members: ['z'], reason: 'r' });
    store.journal.failed(refused, { kind: 'refused', label: 'not-connected', message: 'no' });
    const renamed = store.journal.pending(id, { op: 'rename', key: 'ops', name: 'Team ops', conversationId: 'c2', from: 'x', to: 'Team ops', reason: 'r' });
    store.journal.failed(renamed, { kind: 'permanent', label: 'access-denied', message: 'no' });
    store.journal.done(
      store.journal.pending(id, { op: 'rename', key: 'ops', name: 'Team ops', conversationId: 'c2', from: 'x', to: 'Team ops', reason: 'r' }),
      { kind: 'none' },
    );

    const { rows, total } = store.views.conversations({ limit: 10, failuresSince: '2000-01-01' });
    expect(total).toBe(2);
    expect(rows.map((r) => [r.name, r.members, r.external])).toEqual([
      ['Team eng', 4, 1],
      ['Team ops', 1, 1],
    ]);
    expect(rows[0]!.failures).toEqual([{ op: 'add', kind: 'refused', label: 'not-connected', at: expect.any(String), userId: 'z' }]);
    // the failed rename was followed by one that worked
    expect(rows[1]!.failures).toEqual([]);
    expect(store.views.conversations({ search: 'OPS', limit: 10, failuresSince: '2000-01-01' }).rows.map((r) => r.key)).toEqual(['ops']);
    expect(store.views.conversations({ search: '%', limit: 10, failuresSince: '2000-01-01' }).total).toBe(0);

    const one = store.views.conversation('eng', 10, '2000-01-01')!;
    expect(one.history.map((j) => [j.op, j.status, j.members])).toEqual([
      ['add', 'failed', 1],
      ['create', 'done', 3],
    ]);
    expect(store.views.conversation('nope', 10, '2000-01-01')).toBeUndefined();
    expect(store.views.totals()).toEqual({ conversations: 2, members: 5, pending: 0 });
    store.close();
  });
});
