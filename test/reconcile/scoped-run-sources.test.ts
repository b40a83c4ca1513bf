import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Plan } from '../../src/plan/types.js';
import { runOnce } from '../../src/reconcile/run.js';
import { pushApps } from '../helpers/push-app.js';

let apps: Awaited<ReturnType<typeof pushApps>>;
beforeAll(async () => {
  apps = await pushApps();
});
afterAll(() => apps.stop());

const brief = (plan: Plan) => plan.ops.map((o) => `${o.op} ${o.key}${'fromKey' in o && o.fromKey ? ` from ${o.fromKey}` : ''}`).sort();
const of = (key: string) => (plan: Plan) => brief(plan).filter((o) => o.includes(key));
// a rule with no `match.source` unites groups of both push sources in one conversation
const DEPT = { match: { displayName: '^dept-(.+)$' }, conversation: 'dept-{1}', name: 'Team {1}', onGroupRemoved: 'delete' };
const TEAM = { match: { displayName: '^team-(.+)$' }, name: 'Team {1}' };

it('a run after a push lets nothing go that a group of a source it did not read may feed now', async () => {
  const t = await apps.pushApp({}, { sources: ['idp2'], mappings: [DEPT] });
  try {
    t.group('a', 'dept-x', ['u0', 'u1']);
    for (let i = 0; i < 8; i++) t.group(`o${i}`, `dept-o${i}`, ['u9']);
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    const dept = t.app.store.bindingOf('conv:dept-x')!.conversationId;
    // the department moves to the other IdP; its group on the first is renamed out of every rule
    t.groupIn('idp2', 'z', 'dept-x', ['u0', 'u1', 'u2']);
    t.group('a', 'former-dept-x', ['u0', 'u1']);
    const scoped = await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['a']) });
    expect(brief(scoped.plan)).toEqual([]);
    expect(apps.wire.conversations.has(dept)).toBe(true);
    const full = await runOnce(t.app, { mode: 'sync' });
    expect(brief(full.plan)).toEqual(['add conv:dept-x']);
    expect(t.app.store.bindingOf('conv:dept-x')).toMatchObject({ conversationId: dept });
  } finally {
    await t.close();
  }
});

it('a run after a push takes over no conversation a group of a source it did not read may still feed', async () => {
  const t = await apps.pushApp({}, { sources: ['idp2'], mappings: [DEPT, TEAM] });
  try {
    t.group('a', 'dept-x', ['u0', 'u1']);
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    t.groupIn('idp2', 'z', 'dept-x', ['u0', 'u1', 'u2']);
    t.push.deleteGroup('idp', 'a');
    t.group('b', 'team-x', ['u7', 'u8']);
    const scoped = await runOnce(t.app, { mode: 'dry-run', scope: t.scopeOf(['b']) });
    const full = await runOnce(t.app, { mode: 'dry-run' });
    expect(of('group:idp:b')(scoped.plan)).toEqual(['create group:idp:b']);
    expect(of('group:idp:b')(scoped.plan)).toEqual(of('group:idp:b')(full.plan));
  } finally {
    await t.close();
  }
});

it('a run after a push takes over nothing where a full plan, seeing a second of that name in another source, would not', async () => {
  const t = await apps.pushApp({}, { sources: ['idp2'], mappings: [TEAM] });
  try {
    t.group('a', 'team-x', ['u0', 'u1']);
    t.groupIn('idp2', 'c', 'team-x', ['u2', 'u3']);
    for (let i = 0; i < 8; i++) {
      t.group(`o${i}`, `team-o${i}`, ['u9']);
      t.groupIn('idp2', `p${i}`, `team-p${i}`, ['u9']);
    }
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    t.push.deleteGroup('idp', 'a');
    t.push.deleteGroup('idp2', 'c');
    t.group('b', 'team-x', ['u0', 'u1', 'u4']);
    const scoped = await runOnce(t.app, { mode: 'dry-run', scope: t.scopeOf(['b']) });
    const full = await runOnce(t.app, { mode: 'dry-run' });
    expect(of('group:idp:b')(full.plan)).toEqual(['create group:idp:b']);
    expect(of('group:idp:b')(scoped.plan)).toEqual(of('group:idp:b')(full.plan));
  } finally {
    await t.close();
  }
});
