import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/main.js';
import type { Plan, PlanOp } from '../../src/plan/types.js';
import { runOnce } from '../../src/reconcile/run.js';
import { seededRandom } from '../../src/sandbox/random.js';
import { withAncestors } from '../../src/sources/scim-push/context.js';
import type { FetchOptions } from '../../src/sources/types.js';
import { pushApps } from '../helpers/push-app.js';

let apps: Awaited<ReturnType<typeof pushApps>>;
let backendIds: string[];
let pushApp: (typeof apps)['pushApp'];
beforeAll(async () => {
  apps = await pushApps();
  ({ backendIds, pushApp } = apps);
});
afterAll(() => apps.stop());

/** the same source, answering every group whatever a run selects: the run leaves out what it does not need itself */
function readingWhole(app: App): () => void {
  const source = app.sources[0]!;
  const own = source.fetch.bind(source);
  (source as { fetch: typeof own }).fetch = (signal, opts?: FetchOptions) => own(signal, opts && { ...opts, select: undefined });
  return () => ((source as { fetch: typeof own }).fetch = own);
}

const sorted = (op: PlanOp) => ('members' in op ? { ...op, members: [...op.members].sort() } : op);
const opsOf = (plan: Plan) => plan.ops.map(sorted);
const blockedOf = (plan: Plan) => plan.blocked.map((b) => ({ ...b, op: sorted(b.op) }));

describe('a run after a push', () => {
  it('plans a conversation a renamed group left with the groups still feeding it, and lets nothing go', async () => {
    const t = await pushApp();
    try {
      t.group('a', 'eng-a', ['u0', 'u1']);
      t.group('b', 'eng-b', ['u2']);
      t.group('c', 'team-c', ['u3']);
      expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
      // eng-a leaves the department's conversation for one of its own
      t.group('a', 'team-a', ['u0', 'u1']);
      const scoped = await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['a']) });
      expect(scoped.plan.ops.map((o) => `${o.op} ${o.key}`).sort()).toEqual(['create group:idp:a', 'remove conv:dept-eng']);
      expect(scoped.plan.ops.find((o) => o.op === 'remove')).toMatchObject({ members: [backendIds[0], backendIds[1]].sort() });
      // what a full run then finds: nothing left to do, the department's conversation still bound
      const full = await runOnce(t.app, { mode: 'dry-run' });
      expect(full.plan.ops).toEqual([]);
      expect(t.app.store.bindingOf('conv:dept-eng')).toBeDefined();
    } finally {
      await t.close();
    }
  });

  it.each([
    ['an unbind held by the guards', { maxUnbindsPerRun: 0 }, 'sync'],
    ['policy create-only', {}, 'create-only'],
  ])('takes over, as a full plan does, the conversation of a group made again under a new id (%s)', async (_, guards, policy) => {
    const t = await pushApp(guards);
    try {
      (t.app.config as { policy: string }).policy = policy;
      t.group('a', 'team-x', ['u0', 'u1']);
      t.group('k', 'team-k', ['u2']);
      expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
      const scopeA = t.scopeOf(['a']);
      t.push.deleteGroup('idp', 'a');
      await runOnce(t.app, { mode: 'sync', scope: scopeA });
      expect(t.app.store.bindingOf('group:idp:a')).toBeDefined();
      // the IdP makes the group again: a new id, the same name
      t.group('b', 'team-x', ['u0', 'u1', 'u2']);
      const scoped = await runOnce(t.app, { mode: 'dry-run', scope: t.scopeOf(['b']) });
      const full = await runOnce(t.app, { mode: 'dry-run' });
      const ofB = (plan: Plan) => opsOf(plan).filter((o) => o.key === 'group:idp:b');
      expect(ofB(scoped.plan).map((o) => o.op)).toContain('rebind');
      expect(ofB(scoped.plan)).toEqual(ofB(full.plan));
      const made = () => [...apps.wire.conversations.values()].filter((c) => c.name === 'Team x').length;
      const before = made();
      await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['b']) });
      expect(made()).toBe(before);
      expect(t.app.store.bindingOf('group:idp:b')).toBeDefined();
    } finally {
      await t.close();
    }
  });

  it('never lets go, in a run after a push, a conversation a full run held back', async () => {
    const t = await pushApp({ maxRemovalRatio: 0.2, removalRatioMinMembers: 5 });
    try {
      (t.app.config.mappings[0] as { onGroupRemoved: string }).onGroupRemoved = 'delete';
      t.group('a', 'team-a', ['u0', 'u1']);
      t.group('k', 'team-k', ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8', 'u9']);
      expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
      const a = t.app.store.bindingOf('group:idp:a')!.conversationId;
      t.push.deleteGroup('idp', 'a');
      t.push.replaceMembers('idp', 'k', ['u0']);
      expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(3);
      // a push of a new group, nothing to do with a or k
      t.group('x', 'team-x', ['u2']);
      const scoped = await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['x']) });
      expect(scoped.plan.ops.map((o) => `${o.op} ${o.key}`)).toEqual(['create group:idp:x']);
      expect(apps.wire.conversations.has(a)).toBe(true);
      expect(t.app.store.bindingOf('group:idp:a')).toMatchObject({ conversationId: a });
    } finally {
      await t.close();
    }
  });

  it('reads only the groups of the conversations it plans, and the groups nested in them', async () => {
    const t = await pushApp();
    try {
      t.group('a', 'eng-a', ['u0', 'n1']);
      t.group('b', 'eng-b', ['u2']);
      t.group('n1', 'nested-1', ['u4', 'n2']);
      t.group('n2', 'nested-2', ['u5']);
      t.group('c', 'team-c', ['u3', 'n1']);
      for (let i = 0; i < 50; i++) t.group(`o${i}`, `team-o${i}`, [`u${i % 20}`]);
      expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
      t.push.addMembers('idp', 'b', ['u6']);
      const push = t.app.store.push;
      const own = push.readSelected.bind(push);
      const read: string[][] = [];
      push.readSelected = async (...args) => {
        const r = await own(...args);
        read.push(r.groups.map((g) => g.id).sort());
        return r;
      };
      const scoped = await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['b']) });
      // eng-b shares its conversation with eng-a, which nests n1, which nests n2
      expect(read).toEqual([['a', 'b', 'n1', 'n2']]);
      expect(opsOf(scoped.plan)).toMatchObject([{ op: 'add', key: 'conv:dept-eng', members: [backendIds[6]] }]);
      expect((await runOnce(t.app, { mode: 'dry-run' })).plan.ops).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('still trips the shrink guard when most groups went, without counting memberships it did not read', async () => {
    const t = await pushApp();
    try {
      for (let i = 0; i < 30; i++) t.group(`g${i}`, `team-${i}`, [`u${i % 20}`, `u${(i + 1) % 20}`]);
      expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
      for (let i = 1; i < 30; i++) t.push.deleteGroup('idp', `g${i}`);
      t.push.addMembers('idp', 'g0', ['u5']);
      const scoped = await runOnce(t.app, { mode: 'sync', scope: t.scopeOf(['g0']) });
      expect(scoped.exitCode).toBe(3);
      expect(scoped.plan.warnings.join('\n')).toMatch(/source idp lists 1 groups, 97% fewer than the 30/);
      // a scoped run that only grew reads 1 group of 30 and 3 of 60 memberships: no guard
      const u = await pushApp();
      try {
        for (let i = 0; i < 30; i++) u.group(`g${i}`, `team-${i}`, [`u${i % 20}`, `u${(i + 1) % 20}`]);
        expect((await runOnce(u.app, { mode: 'sync' })).exitCode).toBe(0);
        u.push.addMembers('idp', 'g0', ['u5']);
        const grew = await runOnce(u.app, { mode: 'sync', scope: u.scopeOf(['g0']) });
        expect(grew.exitCode).toBe(0);
        expect(grew.plan.ops).toMatchObject([{ op: 'add', key: 'group:idp:g0', members: [backendIds[5]] }]);
      } finally {
        await u.close();
      }
    } finally {
      await t.close();
    }
  });
});

describe('a run after a push, on random directories', () => {
  const NAMES = ['team-a', 'team-b', 'team-c', 'eng-x', 'eng-y', 'ops-x', 'ops-y', 'misc-1'];
  const RENAMES = ['team-a', 'team-d', 'eng-z', 'ops-x2', 'misc-2'];

  it.each(Array.from({ length: 12 }, (_, i) => i + 1))('plans from the groups it selects what it plans from every group (seed %i)', async (seed) => {
    const random = seededRandom(seed);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    const t = await pushApp();
    try {
      const groups = new Map<string, { name: string; members: string[] }>();
      const write = (id: string) => t.group(id, groups.get(id)!.name, groups.get(id)!.members);
      for (let i = 0; i < 10; i++) {
        const members = Array.from({ length: 20 }, (_, k) => `u${k}`).filter(() => random() < 0.3);
        groups.set(`g${i}`, { name: pick(NAMES), members });
      }
      // some groups nest others (a cycle now and then)
      for (const [, g] of groups) if (random() < 0.3) g.members.push(pick([...groups.keys()]));
      for (const id of groups.keys()) write(id);
      await runOnce(t.app, { mode: 'sync' });

      for (let step = 0; step < 4; step++) {
        const changed: string[] = [];
        for (let k = 0; k < 1 + Math.floor(random() * 3); k++) {
          const id = pick([...groups.keys()]);
          const g = groups.get(id)!;
          const kind = pick(['add', 'remove', 'rename', 'nest', 'new', 'delete']);
          if (kind === 'add') g.members.push(`u${Math.floor(random() * 20)}`);
          else if (kind === 'remove' && g.members.length > 1) g.members.splice(Math.floor(random() * g.members.length), 1);
          else if (kind === 'rename') g.name = pick([...RENAMES, ...NAMES]);
          else if (kind === 'nest') g.members.push(pick([...groups.keys()]));
          else if (kind === 'new') {
            const fresh = `g${groups.size + step * 10 + k}`;
            groups.set(fresh, { name: pick(NAMES), members: [`u${Math.floor(random() * 20)}`, id] });
            write(fresh);
            changed.push(fresh);
            continue;
          } else if (kind === 'delete' && groups.size > 3) {
            // the provider hands a run the groups that held the one deleted
            changed.push(...withAncestors({ store: t.app.store, source: 'idp', path: '', changed: () => undefined }, [id]).filter((a) => a !== id));
            groups.delete(id);
            t.push.deleteGroup('idp', id);
            continue;
          }
          g.members = [...new Set(g.members)];
          write(id);
          changed.push(id);
        }
        const scope = t.scopeOf(changed.filter((id) => groups.has(id)));
        if (scope.size === 0) continue;
        const selecting = await runOnce(t.app, { mode: 'dry-run', scope });
        const restore = readingWhole(t.app);
        const whole = await runOnce(t.app, { mode: 'dry-run', scope });
        restore();
        expect(opsOf(selecting.plan)).toEqual(opsOf(whole.plan));
        expect(blockedOf(selecting.plan)).toEqual(blockedOf(whole.plan));
        // member changes and renames of the conversations it planned are those a full plan makes
        const full = await runOnce(t.app, { mode: 'dry-run' });
        const planned = new Set(selecting.plan.ops.map((o) => o.key));
        const moves = (plan: Plan) => opsOf(plan).filter((o) => ['add', 'remove', 'rename'].includes(o.op) && planned.has(o.key));
        expect(moves(selecting.plan)).toEqual(moves(full.plan));
        if (random() < 0.5) await runOnce(t.app, { mode: 'sync', scope });
        else await runOnce(t.app, { mode: 'sync' });
      }
    } finally {
      await t.close();
    }
  });
});
