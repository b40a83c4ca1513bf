import { afterAll, beforeAll, expect, it } from 'vitest';
import { approveRun, runOnce } from '../../src/reconcile/run.js';
import { pushApps } from '../helpers/push-app.js';

let apps: Awaited<ReturnType<typeof pushApps>>;
beforeAll(async () => {
  apps = await pushApps();
});
afterAll(() => apps.stop());

it('approving a full run whose hold a later full run re-held leaves no hold behind: a later small removal goes', async () => {
  const { backendIds, wire } = apps;
  const t = await apps.pushApp({ maxRemovalsPerRun: 3 });
  try {
    t.group('a', 'team-a', ['u0', 'u1', 'u2', 'u3', 'u4', 'u5']);
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    const conv = t.app.store.bindingOf('group:idp:a')!.conversationId;
    // four leave: the scheduled full run trips maxRemovalsPerRun
    t.push.replaceMembers('idp', 'a', ['u4', 'u5']);
    const f1 = await runOnce(t.app, { mode: 'sync' });
    expect(f1.exitCode).toBe(3);
    // the next full run (e.g. in flight while the operator approves run f1) holds the same again
    const f2 = await runOnce(t.app, { mode: 'sync' });
    expect(f2.exitCode).toBe(3);
    // the operator approves the run status showed them
    const approved = await approveRun(t.app, f1.runId);
    expect(approved.released).toBe(4);
    expect(wire.conversations.get(conv)!.members.has(backendIds[0]!)).toBe(false);
    // u4 leaves later: one removal, under every limit
    t.push.replaceMembers('idp', 'a', ['u5']);
    const f3 = await runOnce(t.app, { mode: 'sync' });
    expect(f3.plan.blocked.filter((b) => b.kind === 'guard').map((b) => b.why)).toEqual([]);
    expect(wire.conversations.get(conv)!.members.has(backendIds[4]!)).toBe(false);
  } finally {
    await t.close();
  }
});
