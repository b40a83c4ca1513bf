import { afterAll, beforeAll, expect, it } from 'vitest';
import { runOnce } from '../../src/reconcile/run.js';
import { pushApps } from '../helpers/push-app.js';

let apps: Awaited<ReturnType<typeof pushApps>>;
beforeAll(async () => {
  apps = await pushApps();
});
afterAll(() => apps.stop());

const opsOf = (o: Awaited<ReturnType<typeof runOnce>>) => o.plan.ops.map((op) => `${op.op} ${op.key}${op.op === 'rebind' ? ` from ${op.fromKey}` : ''}`);

it('a group deleted, then made again under a new id in a later push, takes the conversation it had back, not a second one', async () => {
  const t = await apps.pushApp();
  try {
    t.group('a', 'team-x', ['u0', 'u1']);
    for (let i = 0; i < 9; i++) t.group(`k${i}`, `team-k${i}`, ['u2']);
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    const scopeA = t.scopeOf(['a']);
    t.push.deleteGroup('idp', 'a');
    expect(opsOf(await runOnce(t.app, { mode: 'sync', scope: scopeA }))).toEqual(['unbind group:idp:a']);
    expect(opsOf(await runOnce(t.app, { mode: 'sync' }))).toEqual([]);
    // Okta and Entra send the delete and the new group as separate requests
    t.group('b', 'team-x', ['u0', 'u1']);
    expect(opsOf(await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['b']) }))).toEqual(['rebind group:idp:b from group:idp:a']);
    expect([...apps.wire.conversations.values()].filter((c) => c.name === 'Team x')).toHaveLength(1);
    expect(opsOf(await runOnce(t.app, { mode: 'sync' }))).toEqual([]);
  } finally {
    await t.close();
  }
});

it('so does it in full runs, and two conversations of that name let go are left alone', async () => {
  const t = await apps.pushApp();
  try {
    t.group('a', 'team-x', ['u0', 'u1']);
    t.group('c', 'team-y', ['u1']);
    for (let i = 0; i < 9; i++) t.group(`k${i}`, `team-k${i}`, ['u2']);
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    t.push.deleteGroup('idp', 'a');
    expect(opsOf(await runOnce(t.app, { mode: 'sync' }))).toEqual(['unbind group:idp:a']);
    t.group('b', 'team-x', ['u0']);
    expect(opsOf(await runOnce(t.app, { mode: 'sync' }))).toEqual(['rebind group:idp:b from group:idp:a', 'remove group:idp:b']);
    // two let go under one name: which one is meant is not guessed, a new one is made
    t.group('e', 'team-y', ['u1']);
    expect(opsOf(await runOnce(t.app, { mode: 'sync' }))).toEqual(['create group:idp:e']);
    t.push.deleteGroup('idp', 'c');
    t.push.deleteGroup('idp', 'e');
    expect(opsOf(await runOnce(t.app, { mode: 'sync' })).sort()).toEqual(['unbind group:idp:c', 'unbind group:idp:e']);
    t.group('f', 'team-y', ['u1']);
    expect(opsOf(await runOnce(t.app, { mode: 'sync' }))).toEqual(['create group:idp:f']);
  } finally {
    await t.close();
  }
});
