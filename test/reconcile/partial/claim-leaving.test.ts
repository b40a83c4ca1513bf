import { afterEach, describe, expect, it } from 'vitest';
import { runOnce } from '../../../src/reconcile/run.js';
import { harness, opsOf, type Harness } from './harness.js';

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

const reconcile = (fullPlanEvery: string) => ({ baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2, lostAnswerSettleMs: 0, fullPlanEvery });

/**
 * A conversation whose group is gone but that stays bound after the plan (policy blocks its unbind,
 * or onGroupRemoved: empty removes first and unbinds at a later plan) is "leaving": a full plan lets
 * a new desired conversation of the same name claim it (rebind, fromKey). A partial plan only sees
 * the leaving conversations of its scope, so it creates a second conversation instead.
 */
async function scenario(extra: Record<string, unknown>, fullPlanEvery: string) {
  const h = await harness({ ...extra, reconcile: reconcile(fullPlanEvery) });
  open.push(h);
  h.groups.push({ id: 'g1', displayName: 'team-eng', members: ['u0', 'u1', 'u2'] });
  h.groups.push({ id: 'g9', displayName: 'team-other', members: ['u3'] });
  h.write();
  expect((await runOnce(h.app, { mode: 'sync' })).exitCode).toBe(0);
  // the group is deleted in the directory
  h.groups.splice(0, 1);
  const r2 = await h.planThenSync();
  expect(r2.sync.exitCode).toBe(0);
  expect(opsOf(r2.sync.plan.ops)).toEqual(opsOf(r2.full.plan.ops));
  // the IdP recreates it, new id, same name
  h.groups.push({ id: 'g2', displayName: 'team-eng', members: ['u0', 'u1'] });
  const r3 = await h.planThenSync();
  expect(r3.sync.exitCode).toBe(0);
  // later: a full plan, conversations read back
  const later = await runOnce(h.app, { mode: 'sync', refresh: true });
  return {
    partial: r3.sync.partial,
    fullDryRun: r3.full.plan.ops.map((o) => `${o.op} ${o.key}${'fromKey' in o && o.fromKey ? ` (from ${o.fromKey})` : ''}`),
    synced: r3.sync.plan.ops.map((o) => `${o.op} ${o.key}${'fromKey' in o && o.fromKey ? ` (from ${o.fromKey})` : ''}`),
    later: later.plan.ops.map((o) => `${o.op} ${o.key}`),
    engOnWire: [...h.wire.conversations.values()].filter((c) => c.name === 'Team eng').length,
    bindings: h.app.store
      .loadSnapshot()
      .conversations.map((c) => c.key)
      .sort(),
  };
}

describe('a group made again under a new id claims its left-behind conversation, as a full plan does (a new group is planned in full)', () => {
  for (const [label, extra] of [
    ['onGroupRemoved: empty (policy sync)', { mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}', onGroupRemoved: 'empty' }] }],
    ['policy create-only (unbind blocked by policy)', { policy: 'create-only' }],
    [
      'policy upsert-only, onGroupRemoved: delete (blocked by policy)',
      { policy: 'upsert-only', mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}', onGroupRemoved: 'delete' }] },
    ],
  ] as const) {
    it(label, async () => {
      const full = await scenario(extra, '0s');
      const partial = await scenario(extra, '1h');
      // a new or vanished group is planned in full
      expect(partial.partial).toBeUndefined();
      expect(partial.synced).toEqual(full.synced);
      expect(partial.engOnWire).toBe(full.engOnWire);
    });
  }
});
