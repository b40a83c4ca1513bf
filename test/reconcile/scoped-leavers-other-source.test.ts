import { afterAll, beforeAll, expect, it } from 'vitest';
import { runOnce } from '../../src/reconcile/run.js';
import { pushApps } from '../helpers/push-app.js';

let apps: Awaited<ReturnType<typeof pushApps>>;
beforeAll(async () => {
  apps = await pushApps();
});
afterAll(() => apps.stop());

// the department rule takes groups of idp only: no group of idp2 can feed a department
const DEPT = { match: { source: 'idp', displayName: '^dept-(.+)$' }, conversation: 'dept-{1}', name: 'Dept {1}' };
const TEAM = { match: { source: 'idp2' }, name: 'Other {displayName}' };

it('adds again a leaver whom pushes took out of a department group and back in, though another source (which cannot feed it) was not read', async () => {
  const { backendIds, wire } = apps;
  const t = await apps.pushApp({}, { sources: ['idp2'], mappings: [DEPT, TEAM] });
  try {
    t.group('a', 'dept-x', ['u0', 'u1']);
    t.groupIn('idp2', 'z', 'misc', ['u7']);
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    const conv = t.app.store.bindingOf('conv:dept-x')!.conversationId;
    // u0 leaves the conversation by hand; a refresh records them as a leaver
    wire.conversations.get(conv)!.members.delete(backendIds[0]!);
    expect((await runOnce(t.app, { mode: 'sync', refresh: true })).drift?.left).toBe(1);
    // the IdP pushes u0 out of the department's group, then back in
    t.push.replaceMembers('idp', 'a', ['u1']);
    expect((await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['a']) })).exitCode).toBe(0);
    t.push.replaceMembers('idp', 'a', ['u0', 'u1']);
    await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['a']) });
    // README: once they leave the group and join it again, they are added (also when both happen through pushes)
    // at the latest by the schedule's full runs
    await runOnce(t.app, { mode: 'sync' });
    await runOnce(t.app, { mode: 'sync', refresh: true });
    expect(wire.conversations.get(conv)!.members.has(backendIds[0]!)).toBe(true);
  } finally {
    await t.close();
  }
});
