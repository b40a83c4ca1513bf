import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/migrations/index.js';
import { Store } from '../../src/store/store.js';
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

  it('says why a run with a plan waits for no approval', () => {
    const store = Store.open(dbPath());
    const removal = { op: 'remove', key: 'idp:x', name: 'x', conversationId: 'c', members: ['u1'], reason: 'r' };
    const plan = { ops: [], blocked: [{ kind: 'guard', why: 'held back by guards', op: removal }], warnings: [], summary: { quarantined: true } };
    const dry = store.runs.start('dry-run');
    store.runs.finish(dry, { result: 'quarantined', exitCode: 3, summary: { plan: { quarantined: true } }, plan });
    const held = store.runs.start('sync');
    store.runs.finish(held, { result: 'quarantined', exitCode: 3, summary: { plan: { quarantined: true } }, plan });
    expect(store.views.heldRunIds()).toEqual([held]);
    expect(store.views.whyNotHeld(dry)).toBe(`run ${dry} was a dry-run run: only what a sync held back can be approved`);
    const approve = store.runs.start('approve');
    store.runs.finish(approve, { result: 'ok', exitCode: 0, summary: { approved: held, released: 1, stale: 0 } });
    expect(store.views.heldRunIds()).toEqual([]);
    expect(store.views.whyNotHeld(held)).toBe(`run ${held} was approved already, by run ${approve}`);
    const later = store.runs.start('sync');
    store.runs.finish(later, { result: 'quarantined', exitCode: 3, summary: { plan: { quarantined: true } }, plan });
    const superseding = store.runs.start('sync');
    store.runs.finish(superseding, { result: 'ok', exitCode: 0, summary: { plan: { quarantined: false } }, plan });
    expect(store.views.whyNotHeld(later)).toMatch(/^run \d+ holds nothing back now: it held nothing, or a later full run planned again/);
    store.close();
  });
});
