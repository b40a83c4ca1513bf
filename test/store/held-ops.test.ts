import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { HELD_SINCE } from '../../src/plan/guards.js';
import type { Plan } from '../../src/plan/types.js';
import { rememberHeld } from '../../src/reconcile/bookkeeping.js';
import { MIGRATIONS } from '../../src/store/migrations/index.js';
import { Store } from '../../src/store/store.js';
import { POLICY } from '../helpers/retention.js';
import { tempDbPaths } from '../helpers/temp-db.js';

describe('held ops, per run that held them', () => {
  const dbPath = tempDbPaths('convsync-held-');

  it('keeps each run’s hold on a conversation: approving one leaves the other’s', () => {
    const store = Store.open(dbPath());
    const [first, second] = [store.runs.start('sync', { scoped: true }), store.runs.start('sync', { scoped: true })];
    store.guards.recordHeld(first, [{ op: 'remove', key: 'idp:x' }]);
    store.guards.recordHeld(second, [
      { op: 'remove', key: 'idp:x' },
      { op: 'delete', key: 'idp:y' },
    ]);
    store.guards.recordHeld(second, [{ op: 'remove', key: 'idp:x' }]);
    expect(store.guards.heldOps()).toEqual(
      new Map([
        ['remove idp:x', first],
        ['delete idp:y', second],
      ]),
    );
    store.guards.releaseHeld({ runId: first });
    expect(store.guards.heldOps()).toEqual(
      new Map([
        ['remove idp:x', second],
        ['delete idp:y', second],
      ]),
    );
    // a complete run that no longer plans the delete lets go of it, whoever held it
    store.guards.releaseHeld({ keep: new Set(['remove idp:x']) });
    expect(store.guards.heldOps()).toEqual(new Map([['remove idp:x', second]]));
    store.close();
  });

  it('records what a scoped run held on its own, not what it held only because an earlier run had', () => {
    const store = Store.open(dbPath());
    const op = (key: string) => ({ op: 'remove' as const, key, name: key, conversationId: `c-${key}`, members: ['u1'], reason: 'r' });
    const plan = {
      ops: [],
      blocked: [
        { kind: 'guard' as const, why: `${HELD_SINCE} 3: approve it (convsync approve 3) or sync --allow-removals`, op: op('idp:x') },
        { kind: 'guard' as const, why: 'held back by guards: 3 removals exceed maxRemovalsPerRun 2', op: op('idp:y') },
      ],
      warnings: [],
    } as unknown as Plan;
    rememberHeld(store, 4, plan, { scoped: true, allowRemovals: false, complete: true });
    expect(store.guards.heldOps()).toEqual(new Map([['remove idp:y', 4]]));
    store.close();
  });

  it('a full run’s hold stands for an earlier full run’s hold of the same op, not for a scoped run’s', () => {
    const store = Store.open(dbPath());
    const finished = (scoped: boolean) => {
      const id = store.runs.start('sync', { scoped });
      const plan = { ops: [], blocked: [{ kind: 'guard', why: `held in run ${id}`, op: { op: 'remove', key: 'idp:x' } }], warnings: [] };
      store.runs.finish(id, { result: 'quarantined', exitCode: 3, summary: { plan: { quarantined: true } }, plan: plan as unknown as Plan });
      return id;
    };
    const [scoped, full1, full2] = [finished(true), finished(false), finished(false)];
    store.guards.recordHeld(scoped, [{ op: 'remove', key: 'idp:x' }]);
    store.guards.recordHeld(
      full1,
      [
        { op: 'remove', key: 'idp:x' },
        { op: 'remove', key: 'idp:y' },
      ],
      { full: true },
    );
    store.guards.recordHeld(full2, [{ op: 'remove', key: 'idp:y' }], { full: true });
    // run 2's hold of idp:x is its own; full run 3 holds idp:y again, for run 2
    expect(store.views.heldRunIds()).toEqual([full2, full1, scoped]);
    store.guards.releaseHeld({ runId: full2 });
    expect(store.guards.heldOps()).toEqual(new Map([['remove idp:x', scoped]]));
    store.close();
  });

  it('keeps the holds of a store made before, through the upgrade', () => {
    const path = dbPath();
    const version = MIGRATIONS.length - 1;
    const db = new Database(path);
    for (const m of MIGRATIONS.slice(0, version)) db.exec(m);
    db.pragma(`user_version = ${version}`);
    db.prepare(`INSERT INTO held_ops (op, key, run_id, held_at) VALUES ('remove', 'idp:x', 7, '2026-11-01T00:00:00.000Z')`).run();
    db.close();
    const store = Store.open(path);
    expect(store.guards.heldOps()).toEqual(new Map([['remove idp:x', 7]]));
    store.guards.recordHeld(9, [{ op: 'remove', key: 'idp:x' }]);
    store.guards.releaseHeld({ runId: 7 });
    expect(store.guards.heldOps()).toEqual(new Map([['remove idp:x', 9]]));
    store.close();
  });

  const removal = { op: 'remove', key: 'idp:x', name: 'x', conversationId: 'c', members: ['u1'], reason: 'r' };
  const plan = { ops: [], blocked: [{ kind: 'guard', why: 'held back by guards', op: removal }], warnings: [], summary: { quarantined: true } };
  const quarantined = { result: 'quarantined', exitCode: 3, summary: { plan: { quarantined: true } }, plan };
  /** the hold a quarantined full run records (bookkeeping.ts) */
  const holds = (store: Store, runId: number) => rememberHeld(store, runId, plan as unknown as Plan, { scoped: false, allowRemovals: false, complete: true });

  it('says why a run cannot be approved: not a sync, or approved already (a superseded one can be)', () => {
    const store = Store.open(dbPath());
    const dry = store.runs.start('dry-run');
    store.runs.finish(dry, quarantined);
    const held = store.runs.start('sync');
    holds(store, held);
    store.runs.finish(held, quarantined);
    expect(store.views.heldRunIds()).toEqual([held]);
    expect(store.views.notApprovable(dry)).toBe(`run ${dry} was a dry-run run: only what a sync held back can be approved`);
    expect(store.views.notApprovable(held)).toBeUndefined();
    // a later full run holds the same again: the first no longer waits, and can still be approved
    const later = store.runs.start('sync');
    holds(store, later);
    store.runs.finish(later, quarantined);
    expect(store.views.heldRunIds()).toEqual([later]);
    expect(store.views.notApprovable(held)).toBeUndefined();
    const approve = store.runs.start('approve');
    store.runs.finish(approve, { result: 'ok', exitCode: 0, summary: { approved: later, released: 1, stale: 0 } });
    store.runs.approved(later, approve);
    expect(store.views.heldRunIds()).toEqual([]);
    expect(store.views.notApprovable(later)).toBe(`run ${later} was approved already, by run ${approve}`);
    // the approve run is pruned long before the run it approved: that run stays approved
    store.retention.prune({ ...POLICY, runsMaxAgeMs: 1000 }, Date.now() + 10_000);
    expect(store.runs.exists(approve)).toBe(false);
    expect(store.views.heldRunIds()).toEqual([]);
    expect(store.views.notApprovable(later)).toBe(`run ${later} was approved already, by run ${approve}`);
    store.close();
  });

  it('does not offer a full run whose holds are all an earlier run’s, nor one whose holds an approval released', () => {
    const store = Store.open(dbPath());
    const first = store.runs.start('sync');
    holds(store, first);
    store.runs.finish(first, quarantined);
    // the next full run holds the same removal because the first did: only the first is to approve
    const next = store.runs.start('sync');
    const since = { ...plan, blocked: [{ ...plan.blocked[0]!, why: `${HELD_SINCE} ${first}: approve it (convsync approve ${first})` }] };
    rememberHeld(store, next, since as unknown as Plan, { scoped: false, allowRemovals: false, complete: true });
    store.runs.finish(next, { ...quarantined, plan: since });
    expect(store.views.heldRunIds()).toEqual([first]);
    // a full run holds it anew (its own guard tripped): approving the first releases that hold too
    const third = store.runs.start('sync');
    holds(store, third);
    store.runs.finish(third, quarantined);
    expect(store.views.heldRunIds()).toEqual([third]);
    store.guards.releaseApproved(first, [removal]);
    const approve = store.runs.start('approve');
    store.runs.finish(approve, { result: 'ok', exitCode: 0, summary: { approved: first, released: 1, stale: 0 } });
    store.runs.approved(first, approve);
    expect(store.guards.heldOps()).toEqual(new Map());
    expect(store.views.heldRunIds()).toEqual([]);
    store.close();
  });

  it('keeps the hold of a removal a later full run could not plan (frozen, or the conversation unmanageable now)', () => {
    const store = Store.open(dbPath());
    const first = store.runs.start('sync');
    holds(store, first);
    store.runs.finish(first, quarantined);
    for (const kind of ['frozen', 'unmanageable', 'policy'] as const) {
      const next = store.runs.start('sync');
      const later = { ...plan, blocked: [{ kind, why: 'not now', op: removal }] } as unknown as Plan;
      rememberHeld(store, next, later, { scoped: false, allowRemovals: false, complete: true });
      // a policy that no longer removes does not want it any more: only then is the hold let go
      expect([...store.guards.heldOps().keys()], kind).toEqual(kind === 'policy' ? [] : ['remove idp:x']);
    }
    store.close();
  });

  it('keeps the plan of the run status says to approve, also when it ended 1 (an op failed beside the held ones)', () => {
    const store = Store.open(dbPath());
    const held = store.runs.start('sync');
    holds(store, held);
    store.runs.finish(held, { ...quarantined, result: 'failed', exitCode: 1 });
    for (let i = 0; i < 5; i++) {
      const dry = store.runs.start('dry-run');
      store.runs.finish(dry, { result: 'ok', exitCode: 0, summary: { plan: {} }, plan: { ...plan, warnings: [`dry ${i}`] } });
    }
    store.retention.prune({ ...POLICY, plansMaxCount: 3 });
    expect(store.views.heldRunIds()).toEqual([held]);
    expect(store.runs.plan(held)).toEqual(plan);
    store.close();
  });
});
