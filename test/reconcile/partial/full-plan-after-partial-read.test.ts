import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runOnce } from '../../../src/reconcile/run.js';
import { readStamped, stampsOf } from '../../../src/sources/file/fingerprint.js';
import { harness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** the stored stamp of one group's file made to name the file as it is now: its change goes unseen (as in directory-races) */
function missChange(t: Harness, group: string): void {
  const { store } = t.app;
  const dir = (t.app.config.sources[0] as { path: string }).path;
  const state = store.reads.state('dir')!;
  const stamps = stampsOf(state.fingerprint)!.map((s) => (s.file === join(dir, `group-${group}.json`) ? readStamped(s.file).stamp : s));
  store.reads.mark('dir', { at: state.readAt, fingerprint: JSON.stringify(stamps) }, { full: false, changed: false });
}

/** `minutes` pass for the plan stamp (all whyPlan compares with Date.now()) */
function age(t: Harness, minutes: number): void {
  const stamp = t.app.store.reads.planStamp()!;
  const back = (iso: string | undefined) => iso && new Date(Date.parse(iso) - minutes * 60_000).toISOString();
  t.app.store.reads.savePlanStamp({ ...stamp, at: back(stamp.at)!, ...(stamp.fullAt !== undefined && { fullAt: back(stamp.fullAt) }) });
}

describe('reconcile.fullPlanEvery: the periodic full plan reads whole', () => {
  it('a run that read what changed and then planned in full (a group renamed out of its conversation) does not put the next whole read off', async () => {
    h = await harness({ reconcile: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2, lostAnswerSettleMs: 0, fullPlanEvery: '1h' } }, 6, 'directory');
    h.groups.push({ id: 'a', displayName: 'team-a', members: ['u0'] }, { id: 'b', displayName: 'team-b', members: ['u1'] });
    h.write();
    expect((await runOnce(h.app, { mode: 'sync' })).exitCode).toBe(0);
    // b gains u2, and the read of what changed misses it
    h.groups[1]!.members.push('u2');
    h.write();
    missChange(h, 'b');
    age(h, 50);
    // 50 minutes on, a is renamed out of every rule: the read is of what changed, the plan is full (a feeds no conversation now)
    h.groups[0]!.displayName = 'misc-a';
    h.write();
    const renamed = await runOnce(h.app, { mode: 'sync' });
    expect(renamed.exitCode).toBe(0);
    expect(renamed.partial).toBeUndefined();
    expect(renamed.plan.ops.map((o) => [o.op, o.key])).toEqual([['unbind', 'group:dir:a']]);
    // b's change still unseen: no whole read yet
    expect(renamed.plan.ops.some((o) => o.key === 'group:dir:b')).toBe(false);
    // 20 minutes later, 70 since the last whole read and full plan: a full plan is due, which reads whole and finds b's change
    age(h, 20);
    const due = await runOnce(h.app, { mode: 'sync' });
    expect(due.plan.ops.map((o) => [o.op, o.key])).toEqual([['add', 'group:dir:b']]);
  });
});
