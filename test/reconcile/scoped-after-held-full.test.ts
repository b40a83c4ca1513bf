import { afterAll, beforeAll, expect, it } from 'vitest';
import { runOnce } from '../../src/reconcile/run.js';
import { pushApps } from '../helpers/push-app.js';

let apps: Awaited<ReturnType<typeof pushApps>>;
beforeAll(async () => {
  apps = await pushApps();
});
afterAll(() => apps.stop());

it('a run after a push removes nothing a full run held back, until it is approved', async () => {
  const { backendIds, wire } = apps;
  const t = await apps.pushApp({ maxRemovalsPerRun: 3 });
  try {
    t.group('a', 'team-a', ['u0', 'u1', 'u2']);
    t.group('b', 'team-b', ['u3', 'u4', 'u5']);
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    const convA = t.app.store.bindingOf('group:idp:a')!.conversationId;
    // a change that removes 4 at once: the scheduled full run trips maxRemovalsPerRun and holds them back
    t.push.replaceMembers('idp', 'a', ['u0']);
    t.push.replaceMembers('idp', 'b', ['u3']);
    const full = await runOnce(t.app, { mode: 'sync' });
    expect(full.exitCode).toBe(3);
    expect(full.plan.blocked.filter((b) => b.kind === 'guard')).toHaveLength(2);
    // a push adds someone to team-a: its run plans team-a's 2 removals, under the limit on their own
    t.push.addMembers('idp', 'a', ['u9']);
    const scoped = await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['a']) });
    expect(scoped.plan.ops.filter((o) => o.op === 'remove')).toEqual([]);
    expect(wire.conversations.get(convA)!.members.has(backendIds[1]!)).toBe(true);
  } finally {
    await t.close();
  }
});
