import { afterAll, beforeAll, expect, it } from 'vitest';
import { runOnce } from '../../src/reconcile/run.js';
import { pushApps } from '../helpers/push-app.js';

let apps: Awaited<ReturnType<typeof pushApps>>;
beforeAll(async () => {
  apps = await pushApps();
});
afterAll(() => apps.stop());

// a rule with no `match.source` unites groups of both push sources in one conversation
const DEPT = { match: { displayName: '^dept-(.+)$' }, conversation: 'dept-{1}', name: 'Dept {1}' };

it('a run after a push removes no one a group of a source it did not read may hold in the conversation now', async () => {
  const { backendIds, wire } = apps;
  const t = await apps.pushApp({}, { sources: ['idp2'], mappings: [DEPT] });
  try {
    t.group('a', 'dept-x', ['u0', 'u5']);
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    const dept = t.app.store.bindingOf('conv:dept-x')!.conversationId;
    // the other source now has a group of the department holding u5 (not run yet: a source read on the schedule, or a push still queued)
    t.groupIn('idp2', 'z', 'dept-x', ['u5']);
    // u5 leaves the department's group on the first
    t.push.replaceMembers('idp', 'a', ['u0']);
    const full = await runOnce(t.app, { mode: 'dry-run' });
    expect(full.plan.ops.filter((o) => o.op === 'remove')).toEqual([]);
    const scoped = await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['a']) });
    // a full plan keeps u5 (still in dept-x through idp2:z): so must a run that did not read idp2
    expect(scoped.plan.ops.filter((o) => o.op === 'remove')).toEqual([]);
    expect(wire.conversations.get(dept)!.members.has(backendIds[5]!)).toBe(true);
  } finally {
    await t.close();
  }
});
