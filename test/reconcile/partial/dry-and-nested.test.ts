import { afterEach, describe, expect, it } from 'vitest';
import { runOnce } from '../../../src/reconcile/run.js';
import { harness, opsOf, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('partial plans: dry runs write no prints or stamps; nested groups', () => {
  it('plan and dry-run leave group_prints and the plan stamp as they were, and a sync after them still plans the change', async () => {
    h = await harness();
    h.groups.push({ id: 'g1', displayName: 'team-eng', members: ['u0', 'u1'] });
    h.groups.push({ id: 'g2', displayName: 'team-ops', members: ['u2'] });
    h.write();
    await runOnce(h.app, { mode: 'sync' });
    const prints = [...h.app.store.prints.all()];
    const stamp = h.app.store.reads.planStamp();
    h.groups[0]!.members.push('u5');
    h.write();
    for (const mode of ['plan', 'dry-run'] as const) {
      const r = await runOnce(h.app, { mode });
      expect(r.plan.ops.map((o) => o.op)).toEqual(['add']);
      expect([...h.app.store.prints.all()]).toEqual(prints);
      expect(h.app.store.reads.planStamp()).toEqual(stamp);
    }
    const sync = await runOnce(h.app, { mode: 'sync' });
    expect(sync.partial).toBeDefined();
    expect(sync.plan.ops.map((o) => o.op)).toEqual(['add']);
  });

  for (const layout of ['file', 'directory'] as const) {
    it(`a dry run after a run that followed users repairs nothing and leaves the source's version: the next sync is still skipped (${layout})`, async () => {
      h = await harness({}, 10, layout);
      h.groups.push({ id: 'g1', displayName: 'team-eng', members: ['u0', 'u1'] });
      h.write();
      await runOnce(h.app, { mode: 'sync' });
      h.users[1]!.title = 'edited';
      h.write();
      expect((await runOnce(h.app, { mode: 'sync' })).partial).toBeDefined();
      expect(h.app.store.reads.state('dir')?.cursor).toContain('"followed":true');
      const version = h.app.store.reads.version('dir');
      // its whole read compares every user (the mark says a read of what changed wrote some), finds them as stored
      await runOnce(h.app, { mode: 'dry-run' });
      expect(h.app.store.reads.state('dir')?.cursor).not.toContain('followed');
      expect(h.app.store.reads.version('dir')).toBe(version);
      expect((await runOnce(h.app, { mode: 'sync' })).plan.warnings[0]).toMatch(/^unchanged since run/);
    });
  }

  it('a change in a nested child changes the parent: both planned, as a full plan does', async () => {
    h = await harness();
    h.groups.push({ id: 'child', displayName: 'child', members: ['u0'] });
    h.groups.push({ id: 'p', displayName: 'team-parent', members: ['u1', 'child'] });
    h.groups.push({ id: 'x', displayName: 'team-x', members: ['u2'] });
    h.write();
    await runOnce(h.app, { mode: 'sync' });
    h.groups[0]!.members.push('u4');
    const { full, sync } = await h.planThenSync();
    expect(sync.partial).toBeDefined();
    expect(opsOf(sync.plan.ops)).toEqual(opsOf(full.plan.ops));
    expect(sync.plan.ops.map((o) => `${o.op} ${o.key}`)).toEqual(['add group:dir:p']);
  });
});
