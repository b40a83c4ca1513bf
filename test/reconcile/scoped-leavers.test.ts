import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOnce } from '../../src/reconcile/run.js';
import { pushApps } from '../helpers/push-app.js';

let apps: Awaited<ReturnType<typeof pushApps>>;
beforeAll(async () => {
  apps = await pushApps();
});
afterAll(() => apps.stop());

describe('a leaver and runs after pushes', () => {
  it('adds again someone who left by hand once pushes took them out of the group and back in', async () => {
    const { backendIds, wire } = apps;
    const t = await apps.pushApp();
    try {
      t.group('a', 'team-a', ['u0', 'u1']);
      expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
      const conv = t.app.store.bindingOf('group:idp:a')!.conversationId;
      // u0 leaves the conversation by hand; a refresh records them as a leaver
      wire.conversations.get(conv)!.members.delete(backendIds[0]!);
      const refreshed = await runOnce(t.app, { mode: 'sync', refresh: true });
      expect(refreshed.drift?.left).toBe(1);
      expect(wire.conversations.get(conv)!.members.has(backendIds[0]!)).toBe(false);

      // the IdP pushes u0 out of the group, then back in: each push runs the group's conversation
      t.push.replaceMembers('idp', 'a', ['u1']);
      expect((await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['a']) })).exitCode).toBe(0);
      t.push.replaceMembers('idp', 'a', ['u0', 'u1']);
      const back = await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['a']) });
      // their group membership changed: DESIGN.md says they are added again
      expect(back.plan.ops).toMatchObject([{ op: 'add', key: 'group:idp:a', members: [backendIds[0]] }]);
      expect(wire.conversations.get(conv)!.members.has(backendIds[0]!)).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('adds them at the latest at the next full run', async () => {
    const { backendIds, wire } = apps;
    const t = await apps.pushApp();
    try {
      t.group('a', 'team-a', ['u0', 'u1']);
      expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
      const conv = t.app.store.bindingOf('group:idp:a')!.conversationId;
      wire.conversations.get(conv)!.members.delete(backendIds[0]!);
      await runOnce(t.app, { mode: 'sync', refresh: true });
      t.push.replaceMembers('idp', 'a', ['u1']);
      await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['a']) });
      t.push.replaceMembers('idp', 'a', ['u0', 'u1']);
      await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['a']) });
      // the schedule's full runs, later
      await runOnce(t.app, { mode: 'sync' });
      await runOnce(t.app, { mode: 'sync', refresh: true });
      expect(wire.conversations.get(conv)!.members.has(backendIds[0]!)).toBe(true);
    } finally {
      await t.close();
    }
  });
});

describe('a conversation deleted by hand and runs after pushes', () => {
  it('is made again for a group that comes after every group that fed it went, as a full run makes it', async () => {
    const { wire } = apps;
    const outcome = async (fullBetween: boolean) => {
      const t = await apps.pushApp();
      try {
        t.group('a', 'eng-a', ['u0', 'u1']);
        t.group('k', 'team-k', ['u2']);
        expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
        const dept = t.app.store.bindingOf('conv:dept-eng')!.conversationId;
        wire.conversations.delete(dept);
        expect((await runOnce(t.app, { mode: 'sync', refresh: true })).drift?.deleted).toBe(1);
        // the department's only group is deleted by a push …
        const scopeA = t.scopeOf(['a']);
        t.push.deleteGroup('idp', 'a');
        await runOnce(t.app, fullBetween ? { mode: 'sync' } : { mode: 'sync', scope: scopeA });
        // … and a new one of the department pushed later
        t.group('b', 'eng-b', ['u3']);
        const made = await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['b']) });
        const full = await runOnce(t.app, { mode: 'sync' });
        return {
          ops: [...made.plan.ops, ...full.plan.ops].map((o) => `${o.op} ${o.key}`),
          bound: t.app.store.bindingOf('conv:dept-eng') !== undefined,
        };
      } finally {
        await t.close();
      }
    };
    const viaFull = await outcome(true);
    expect(viaFull).toEqual({ ops: ['create conv:dept-eng'], bound: true });
    expect(await outcome(false)).toEqual(viaFull);
  });
});
