import { afterEach, describe, expect, it } from 'vitest';
import { runOnce } from '../../../src/reconcile/run.js';
import { harness, type Harness } from './harness.js';

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

/**
 * A conversation deleted by hand is remembered (drift `gone`) while its group is there; a full plan
 * forgets it once its group is gone (forgetResolvedDrift: "a conversation deleted by hand whose
 * groups are gone too: nothing left to remember"), so a group that comes back gets a conversation.
 */
async function scenario(fullPlanEvery: string) {
  const h = await harness({ reconcile: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2, lostAnswerSettleMs: 0, fullPlanEvery } });
  open.push(h);
  h.groups.push({ id: 'g1', displayName: 'team-eng', members: ['u0', 'u1'] });
  h.groups.push({ id: 'g9', displayName: 'team-other', members: ['u3'] });
  h.write();
  expect((await runOnce(h.app, { mode: 'sync' })).exitCode).toBe(0);
  // someone deletes the conversation by hand; a refresh records it
  const eng = [...h.wire.conversations.values()].find((c) => c.name === 'Team eng')!;
  h.wire.conversations.delete(eng.id);
  const refreshed = await runOnce(h.app, { mode: 'sync', refresh: true });
  expect(refreshed.drift?.deleted).toBe(1);
  expect(h.app.store.drift.memory().gone).toEqual(['group:dir:g1']);

  // the group is deleted in the directory
  const g1 = h.groups.splice(0, 1)[0]!;
  h.write();
  const gone = await runOnce(h.app, { mode: 'sync' });
  const memoryAfterGone = h.app.store.drift.memory().gone;

  // ... and comes back (restored, or renamed back) before the next full plan
  h.groups.push(g1);
  h.write();
  const back = await runOnce(h.app, { mode: 'sync' });
  // much later: a full plan, the conversations read back
  const later = await runOnce(h.app, { mode: 'sync', refresh: true });
  return {
    partialWhenGone: gone.partial,
    memoryAfterGone,
    backOps: back.plan.ops.map((o) => `${o.op} ${o.key}`),
    backBlocked: back.plan.blocked.map((b) => `${b.kind} ${b.op.op} ${b.op.key}`),
    laterOps: later.plan.ops.map((o) => `${o.op} ${o.key}`),
    laterBlocked: later.plan.blocked.map((b) => `${b.kind} ${b.op.op} ${b.op.key}`),
    engOnWire: [...h.wire.conversations.values()].filter((c) => c.name === 'Team eng').length,
  };
}

describe('the memory of a conversation deleted by hand, with partial plans', () => {
  it('is forgotten when its group goes, so the group coming back is made a conversation again, as with full plans', async () => {
    const full = await scenario('0s');
    const partial = await scenario('1h');
    // a vanished group is planned in full
    expect(partial.partialWhenGone).toBeUndefined();
    expect(partial.memoryAfterGone).toEqual(full.memoryAfterGone);
    expect(partial.engOnWire).toBe(full.engOnWire);
  });
});
