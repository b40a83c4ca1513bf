import { afterAll, beforeAll, expect, it } from 'vitest';
import { runOnce } from '../../src/reconcile/run.js';
import { pushApps } from '../helpers/push-app.js';

let apps: Awaited<ReturnType<typeof pushApps>>;
beforeAll(async () => {
  apps = await pushApps();
});
afterAll(() => apps.stop());

// each source has its own uniting rule; no group of idp2 can render conv:dept-*
const DEPT = { match: { source: 'idp', displayName: '^dept-(.+)$' }, conversation: 'dept-{1}', name: 'Dept {1}' };
const PROJ = { match: { source: 'idp2', displayName: '^proj-(.+)$' }, conversation: 'proj-{1}', name: 'Project {1}' };

it('a run after a push removes a leaver of a department that no group of the source it did not read can feed', async () => {
  const { backendIds, wire } = apps;
  const t = await apps.pushApp({}, { sources: ['idp2'], mappings: [DEPT, PROJ] });
  try {
    t.group('a', 'dept-x', ['u0', 'u1']);
    t.groupIn('idp2', 'z', 'proj-y', ['u7']);
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    const conv = t.app.store.bindingOf('conv:dept-x')!.conversationId;
    t.push.replaceMembers('idp', 'a', ['u0']);
    // a full plan removes u1
    expect((await runOnce(t.app, { mode: 'dry-run' })).plan.ops.filter((o) => o.op === 'remove')).toHaveLength(1);
    const scoped = await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['a']) });
    expect(scoped.plan.blocked.filter((b) => b.kind === 'frozen').map((b) => b.why)).toEqual([]);
    expect(wire.conversations.get(conv)!.members.has(backendIds[1]!)).toBe(false);
  } finally {
    await t.close();
  }
});
