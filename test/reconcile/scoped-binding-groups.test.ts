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

it('runs after pushes to one source remove no one a group of the other source, which they did not read, put in the conversation', async () => {
  const { backendIds, wire } = apps;
  const t = await apps.pushApp({}, { sources: ['idp2'], mappings: [DEPT] });
  try {
    t.group('a', 'dept-x', ['u0']);
    t.groupIn('idp2', 'z', 'dept-x', ['u5']);
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    const dept = t.app.store.bindingOf('conv:dept-x')!.conversationId;
    expect(wire.conversations.get(dept)!.members.has(backendIds[5]!)).toBe(true);
    // two pushes to idp, each run on its own; idp2 is not read
    t.push.addMembers('idp', 'a', ['u1']);
    const first = await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['a']) });
    expect(first.plan.ops.map((o) => o.op)).toEqual(['add']);
    t.push.addMembers('idp', 'a', ['u2']);
    const second = await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['a']) });
    // u5 is still in dept-x through idp2:z: a full plan removes no one
    expect((await runOnce(t.app, { mode: 'dry-run' })).plan.ops.filter((o) => o.op === 'remove')).toEqual([]);
    expect(second.plan.ops.filter((o) => o.op === 'remove')).toEqual([]);
    expect(wire.conversations.get(dept)!.members.has(backendIds[5]!)).toBe(true);
  } finally {
    await t.close();
  }
});
