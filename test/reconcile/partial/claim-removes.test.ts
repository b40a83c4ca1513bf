import { afterEach, describe, expect, it } from 'vitest';
import { runOnce } from '../../../src/reconcile/run.js';
import { harness, type Harness } from './harness.js';

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

/**
 * Two conversations of the same name are left behind and stay bound (Wire cannot archive: blocked
 * by policy, every plan; the configuration refuses it now, a store of an earlier version may bind
 * conversations so). A full plan sees two candidates and claims neither (creates the
 * new one). A partial plan sees only the one in its scope, claims it, and removes its members.
 */
async function scenario(fullPlanEvery: string) {
  const h = await harness({
    mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}' }],
    reconcile: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2, lostAnswerSettleMs: 0, fullPlanEvery },
  });
  open.push(h);
  h.app.config.mappings[0]!.onGroupRemoved = 'archive';
  h.groups.push({ id: 'g1', displayName: 'team-eng', members: ['u0', 'u1', 'u2'] });
  h.groups.push({ id: 'g3', displayName: 'team-eng', members: ['u3', 'u4'] });
  h.groups.push({ id: 'g9', displayName: 'team-other', members: ['u5'] });
  h.write();
  expect((await runOnce(h.app, { mode: 'sync' })).exitCode).toBe(0);
  h.groups.splice(0, 1); // g1 gone: its conversation cannot be archived on Wire, it stays bound
  const r2 = await h.planThenSync();
  h.groups.splice(0, 1); // g3 gone too
  h.groups.push({ id: 'g2', displayName: 'team-eng', members: ['u0'] });
  const r3 = await h.planThenSync();
  const conv3 = [...h.wire.conversations.values()].find((c) => c.members.has(h.users[3]!.externalId) || c.name === 'Team eng');
  return {
    r2: { exit: r2.sync.exitCode, blocked: r2.sync.plan.blocked.map((b) => `${b.kind} ${b.op.op} ${b.op.key}`) },
    partial: r3.sync.partial,
    fullDryRun: r3.full.plan.ops.map(
      (o) => `${o.op} ${o.key}${'members' in o ? ` [${o.members.length}]` : ''}${'fromKey' in o && o.fromKey ? ` (from ${o.fromKey})` : ''}`,
    ),
    synced: r3.sync.plan.ops.map(
      (o) => `${o.op} ${o.key}${'members' in o ? ` [${o.members.length}]` : ''}${'fromKey' in o && o.fromKey ? ` (from ${o.fromKey})` : ''}`,
    ),
    removed: r3.sync.plan.ops.filter((o) => o.op === 'remove').flatMap((o) => ('members' in o ? o.members : [])),
    u3StillInAConversation: [...h.wire.conversations.values()].some((c) => c.members.has(h.users[3]!.externalId)),
    _: conv3 && undefined,
  };
}

describe('a partial plan never claims a left-behind conversation a full plan would not, nor removes its members', () => {
  it('Wire, onGroupRemoved: archive (blocked: Wire cannot archive)', async () => {
    const full = await scenario('0s');
    const partial = await scenario('1h');
    // a new or vanished group is planned in full
    expect(partial.partial).toBeUndefined();
    expect(partial.removed).toEqual(full.removed);
    expect(partial.synced).toEqual(full.synced);
  });
});
