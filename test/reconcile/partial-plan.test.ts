import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PlanParts } from '../../src/reconcile/group-parts.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { renderPlan } from '../../src/plan/render.js';
import { runOnce } from '../../src/reconcile/run.js';
import { readStamped, stampsOf } from '../../src/sources/file/fingerprint.js';
import { spanDigest, spansOf } from '../../src/sources/file/spans.js';
import { randomUuid, seededRandom } from '../../src/sandbox/random.js';
import { harness, opsOf, type Layout } from './partial/harness.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup(seed: number, layout: Layout = 'file') {
  const t = await harness(
    {
      mappings: [
        { match: { displayName: '^team-(.+)$' }, name: 'Team {1}' },
        // groups of one department feed one conversation together
        { match: { displayName: '^(eng|ops)-(.+)$' }, conversation: 'dept-{1}', name: 'Dept {1}' },
      ],
    },
    0,
    layout,
  );
  cleanup.push(() => t.close());
  const { wire, users, groups } = t;
  const random = seededRandom(seed);
  // more backend users than directory users: an identity can move to one not used yet
  const backendIds = Array.from({ length: 40 }, () => randomUuid(random));
  for (const id of backendIds) wire.addUser({ id });
  users.push(...Array.from({ length: 30 }, (_, i) => ({ id: `u${i}`, userName: `user${i}`, externalId: backendIds[i]!, active: true })));
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const names = ['team-a', 'team-b', 'team-c', 'eng-x', 'eng-y', 'ops-x', 'ops-y', 'misc-1'];
  groups.push(
    ...names.map((displayName, i) => ({
      id: `g${i}`,
      displayName,
      members: users.filter(() => random() < 0.3).map((u) => u.id),
    })),
  );
  t.write();

  /** one random change to the directory, as an IdP would make it */
  const change = () => {
    const g = pick(groups);
    // mostly what a directory sees every day (memberships, attributes), sometimes its shape
    const kind = random() < 0.75 ? pick([0, 1, 5, 6]) : pick([2, 3, 4]);
    switch (kind) {
      case 0:
        g.members.push(pick(users.filter((u) => !g.members.includes(u.id))).id);
        break;
      case 1:
        // never the last member: a group read empty is held back by a guard, in either plan
        if (g.members.length > 1) g.members.splice(Math.floor(random() * g.members.length), 1);
        break;
      case 2:
        // a rename can move a group into or out of a department's conversation
        g.displayName = pick(['team-a', 'team-d', 'eng-z', 'ops-x2', 'misc-2', `team-${g.id}`]);
        break;
      case 3:
        if (groups.length > 3) groups.splice(groups.indexOf(g), 1);
        break;
      case 4:
        groups.push({ id: `g${groups.length + 10}${Math.floor(random() * 1000)}`, displayName: pick(['team-n', 'eng-n', 'ops-x']), members: [pick(users).id] });
        break;
      case 5: {
        // the attribute identity reads moves to another backend user
        const u = pick(users);
        u.externalId = pick(backendIds);
        break;
      }
      case 6: {
        const u = pick(users);
        u.active = !u.active;
        break;
      }
    }
  };
  return { app: t.app, wire, change, write: t.write, users, groups };
}

/** after a first sync, two team groups each gain someone, written to the directory */
async function twoTeamsGainOne(t: Awaited<ReturnType<typeof setup>>) {
  await runOnce(t.app, { mode: 'sync' });
  const [a, b] = t.groups.filter((g) => g.displayName.startsWith('team-'));
  const newcomer = (g: { members: string[] }) => t.users.find((u) => !g.members.includes(u.id))!.id;
  a!.members.push(newcomer(a!));
  b!.members.push(newcomer(b!));
  t.write();
  return [a!, b!] as const;
}

/** a run plans a's change alone (b's went unseen); the next full plan plans b's */
async function missedThenPlannedInFull(t: Awaited<ReturnType<typeof setup>>, a: { id: string }, b: { id: string }) {
  const missed = await runOnce(t.app, { mode: 'sync' });
  expect(missed.partial?.changed).toBe(1);
  expect(missed.plan.ops.map((o) => [o.op, o.key])).toEqual([['add', `group:dir:${a.id}`]]);
  // it saw only the conversations of a's group: it names no snapshot
  expect(missed.plan.snapshotDigest).toBe('');
  expect(renderPlan(missed.plan).split('\n')[0]).toBe('Plan (owner convsync, policy sync)');
  // reconcile.fullPlanEvery has passed since the last full plan
  t.app.store.reads.savePlanStamp({ ...t.app.store.reads.planStamp()!, fullAt: '2000-01-01T00:00:00.000Z' });
  const full = await runOnce(t.app, { mode: 'sync' });
  expect(full.partial).toBeUndefined();
  expect(full.plan.snapshotDigest).toMatch(/^sha256:/);
  expect(renderPlan(full.plan).split('\n')[0]).toMatch(/^Plan \(owner convsync, policy sync, snapshot sha256:[0-9a-f]{12}…\)$/);
  expect(full.plan.ops.map((o) => [o.op, o.key])).toEqual([['add', `group:dir:${b.id}`]]);
}

describe('a run told only that a source changed plans the conversations of the groups that did', () => {
  it('makes exactly the ops a full plan of the same read makes, over many random changes, and a full plan afterwards finds nothing to do', async () => {
    const t = await setup(11);
    const first = await runOnce(t.app, { mode: 'sync' });
    expect(first.exitCode).toBe(0);
    expect(first.partial).toBeUndefined();
    let partials = 0;
    let fulls = 0;
    for (let i = 0; i < 40; i++) {
      const changes = 1 + (i % 3);
      for (let c = 0; c < changes; c++) t.change();
      t.write();
      // the full plan of this read, as a dry run computes it
      const full = await runOnce(t.app, { mode: 'plan' });
      expect(full.partial).toBeUndefined();
      const sync = await runOnce(t.app, { mode: 'sync' });
      expect(sync.exitCode, JSON.stringify(sync.result?.failed)).toBe(0);
      expect(opsOf(sync.plan.ops), `step ${i}`).toEqual(opsOf(full.plan.ops));
      expect(sync.plan.blocked.length).toBe(full.plan.blocked.length);
      if (sync.partial) {
        partials++;
        expect(sync.partial.groups).toBeLessThanOrEqual(sync.partial.of);
      } else fulls++;
    }
    // both paths taken: a change of memberships or attributes plans a part; a group new, gone or moved plans in full
    expect(partials).toBeGreaterThan(10);
    expect(fulls).toBeGreaterThan(5);
    // a full plan, with the conversations read back from Wire: nothing left over, nothing drifted
    const check = await runOnce(t.app, { mode: 'sync', refresh: true });
    expect(check.partial).toBeUndefined();
    expect(check.drift).toMatchObject({ added: 0, left: 0, renamed: 0, deleted: 0 });
    expect(check.plan.ops).toEqual([]);
    expect(t.wire.violations).toEqual([]);
  });

  it('over a directory of a file per group, reads only the files that changed, and leaves nothing a full plan of the same files would do', async () => {
    const t = await setup(13, 'directory');
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    const fullReadAt = () => t.app.store.reads.state('dir')!.fullReadAt;
    let followed = 0;
    let fulls = 0;
    // groups a plan started from their stored parts, with who came and went
    const load = vi.spyOn(PlanParts.prototype, 'load');
    cleanup.push(() => load.mockRestore());
    for (let i = 0; i < 40; i++) {
      for (let c = 0; c < 1 + (i % 3); c++) t.change();
      t.write();
      const before = fullReadAt();
      // reads come a second apart at least, so that a whole read is told apart by its time
      await new Promise((r) => setTimeout(r, 5));
      const sync = await runOnce(t.app, { mode: 'sync' });
      expect(sync.exitCode, JSON.stringify(sync.result?.failed)).toBe(0);
      if (fullReadAt() === before) followed++;
      if (!sync.partial) fulls++;
      // the same files planned whole, as a dry run does: nothing is left to do, nothing was done twice
      const full = await runOnce(t.app, { mode: 'plan' });
      expect(full.partial).toBeUndefined();
      expect(opsOf(full.plan.ops), `step ${i}`).toEqual([]);
      expect(full.plan.blocked.map((b) => b.kind)).toEqual(sync.plan.blocked.map((b) => b.kind));
    }
    // groups new or gone are read whole: the rest, users edited included, is followed file by file
    expect(followed).toBeGreaterThan(5);
    expect(fulls).toBeGreaterThan(5);
    // among them groups whose members only came and went, started from the parts the plans before left
    expect(load.mock.results.reduce((n, r) => n + (r.value as PlanParts).used, 0)).toBeGreaterThan(5);
    const check = await runOnce(t.app, { mode: 'sync', refresh: true });
    expect(check.drift).toMatchObject({ added: 0, left: 0, renamed: 0, deleted: 0 });
    expect(check.plan.ops).toEqual([]);
    expect(t.wire.violations).toEqual([]);
  });

  it('over one JSON file, plans a group whose members came and went from its stored part and who moved, and leaves nothing a full plan would do', async () => {
    const t = await setup(19);
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    const load = vi.spyOn(PlanParts.prototype, 'load');
    cleanup.push(() => load.mockRestore());
    let partials = 0;
    for (let i = 0; i < 30; i++) {
      for (let c = 0; c < 1 + (i % 3); c++) t.change();
      t.write();
      const sync = await runOnce(t.app, { mode: 'sync' });
      expect(sync.exitCode, JSON.stringify(sync.result?.failed)).toBe(0);
      if (sync.partial) partials++;
      const full = await runOnce(t.app, { mode: 'plan' });
      expect(full.partial).toBeUndefined();
      expect(opsOf(full.plan.ops), `step ${i}`).toEqual([]);
    }
    expect(partials).toBeGreaterThan(10);
    expect(load.mock.results.reduce((n, r) => n + (r.value as PlanParts).used, 0)).toBeGreaterThan(5);
    const check = await runOnce(t.app, { mode: 'sync', refresh: true });
    expect(check.drift).toMatchObject({ added: 0, left: 0, renamed: 0, deleted: 0 });
    expect(check.plan.ops).toEqual([]);
    expect(t.wire.violations).toEqual([]);
  });

  it('a part gone wrong (its print the same, its members not) is set right by the next full plan, which resolves every member', async () => {
    const t = await setup(23);
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    const g = t.groups.find((x) => x.displayName.startsWith('team-') && x.members.length >= 2)!;
    const key = `dir:${g.id}`;
    const db = (t.app.store as unknown as { db: { prepare(sql: string): { run(...a: unknown[]): void; get(...a: unknown[]): unknown } } }).db;
    const refsOf = () => (db.prepare(`SELECT refs FROM group_parts WHERE group_key = ?`).get(key) as { refs: string }).refs;
    const good = refsOf();
    // as a collision of prints would leave it: the part of other members under the print of these
    db.prepare(`UPDATE group_parts SET refs = ? WHERE group_key = ?`).run(good.split(',').slice(1).join(','), key);
    // reconcile.fullPlanEvery has passed: a full plan, with nothing changed; the part is set right before any op is sent
    t.app.store.reads.savePlanStamp({ ...t.app.store.reads.planStamp()!, fullAt: '2000-01-01T00:00:00.000Z' });
    const atApply: string[] = [];
    const original = Reconciler.prototype.apply;
    const apply = vi.spyOn(Reconciler.prototype, 'apply').mockImplementation(function (this: Reconciler, plan, runId) {
      atApply.push(refsOf());
      return original.call(this, plan, runId);
    });
    cleanup.push(() => apply.mockRestore());
    const full = await runOnce(t.app, { mode: 'sync' });
    expect(atApply).toEqual([good]);
    expect(full.partial).toBeUndefined();
    expect(full.plan.ops).toEqual([]);
    expect(refsOf()).toBe(good);
    // the next change of that group starts from the part set right, and does what a full plan does
    const load = vi.spyOn(PlanParts.prototype, 'load');
    cleanup.push(() => load.mockRestore());
    g.members.splice(0, 1);
    t.write();
    const partial = await runOnce(t.app, { mode: 'sync' });
    expect(partial.partial?.changed).toBe(1);
    expect((load.mock.results.at(-1)!.value as PlanParts).used).toBe(1);
    expect((await runOnce(t.app, { mode: 'plan' })).plan.ops).toEqual([]);
  });

  it('a change an incremental read missed is planned by the next full plan, which reads the directory whole', async () => {
    const t = await setup(17, 'directory');
    const [a, b] = await twoTeamsGainOne(t);
    // b's change unseen: the stored stamps name b's file as it is now (its hash too), the stored groups as they were
    const { store } = t.app;
    const dir = (t.app.config.sources[0] as { path: string }).path;
    const state = store.reads.state('dir')!;
    const stamps = stampsOf(state.fingerprint)!.map((s) => (s.file === join(dir, `group-${b.id}.json`) ? readStamped(s.file).stamp : s));
    store.reads.mark('dir', { at: state.readAt, fingerprint: JSON.stringify(stamps) }, { full: false, changed: false });

    await missedThenPlannedInFull(t, a, b);
    expect((await runOnce(t.app, { mode: 'plan' })).plan.ops).toEqual([]);
    // what the store keeps of the directory was written again from the whole read, though every stamp
    // matched: a later change elsewhere plans only that change, and b keeps its newcomer
    const member = a.members[0]!;
    a.members = a.members.filter((m) => m !== member);
    t.write();
    const later = await runOnce(t.app, { mode: 'sync' });
    expect(later.partial?.changed).toBe(1);
    const removed = t.users.find((u) => u.id === member)!.externalId;
    expect(later.plan.ops.map((o) => [o.op, o.key, 'members' in o ? o.members : []])).toEqual([['remove', `group:dir:${a.id}`, [removed]]]);
  });

  it('a group an incremental read of a single file missed is planned by the next full plan, which stores the file anew', async () => {
    const t = await setup(19);
    const [a, b] = await twoTeamsGainOne(t);
    // b's change unseen: its stored row names the bytes it has now, with the members it had
    const { store } = t.app;
    const bytes = readFileSync((t.app.config.sources[0] as { path: string }).path);
    const stored = store.reads.someGroups('dir', [b.id]).get(b.id)!;
    const data = { ...(JSON.parse(stored.data!) as object), span: spanDigest(bytes, spansOf(bytes)!.groups[t.groups.indexOf(b)]!) };
    const state = store.reads.state('dir')!;
    store.reads.apply(
      'dir',
      { groups: [{ ...stored, data: JSON.stringify(data) }], deletedGroups: [], users: [], deletedUsers: [] },
      { at: state.readAt, fingerprint: state.fingerprint },
    );

    await missedThenPlannedInFull(t, a, b);
    // the whole read compared every row, not only the bytes' digests: b is stored with its newcomer
    expect(store.reads.someGroups('dir', [b.id]).get(b.id)!.members).toEqual(b.members);
    a.members.shift();
    t.write();
    const later = await runOnce(t.app, { mode: 'sync' });
    expect(later.partial?.changed).toBe(1);
    expect(later.plan.ops.map((o) => [o.op, o.key])).toEqual([['remove', `group:dir:${a.id}`]]);
  });

  it('one member added to one group plans only that group, and a department conversation takes every group that feeds it', async () => {
    const t = await setup(3);
    await runOnce(t.app, { mode: 'sync' });
    expect(t.app.store.prints.all().size).toBe(t.groups.length);
    const teamA = t.groups.find((g) => g.displayName === 'team-a')!;
    teamA.members.push(t.users.find((u) => !teamA.members.includes(u.id))!.id);
    t.write();
    // the members of only the conversations the plan looks at are read
    const loaded: (string[] | undefined)[] = [];
    const load = t.app.store.loadSnapshot.bind(t.app.store);
    t.app.store.loadSnapshot = (only) => (loaded.push(only && [...only].sort()), load(only));
    const one = await runOnce(t.app, { mode: 'sync' });
    expect(one.partial).toEqual({ groups: 1, of: t.groups.length, changed: 1 });
    expect(one.plan.ops.map((o) => [o.op, o.key])).toEqual([['add', `group:dir:${teamA.id}`]]);
    expect(loaded).toEqual([[`group:dir:${teamA.id}`]]);

    const engX = t.groups.find((g) => g.displayName === 'eng-x')!;
    const engY = t.groups.find((g) => g.displayName === 'eng-y')!;
    // someone in eng-x only: the union of the two loses them
    const leaving = engX.members.find((m) => !engY.members.includes(m))!;
    expect(leaving).toBeDefined();
    engX.members = engX.members.filter((m) => m !== leaving);
    t.write();
    const dept = await runOnce(t.app, { mode: 'sync' });
    // eng-x and eng-y feed conv:dept-eng together: both are planned, eng-y unchanged
    expect(dept.partial).toEqual({ groups: 2, of: t.groups.length, changed: 1 });
    expect(dept.plan.ops.map((o) => [o.op, o.key])).toEqual([['remove', 'conv:dept-eng']]);
    expect(loaded.at(-1)).toEqual(['conv:dept-eng']);

    // nothing changed: no read, no plan
    const again = await runOnce(t.app, { mode: 'sync' });
    expect(again.plan.warnings[0]).toMatch(/^unchanged since run/);
  });

  it('frees a leaver whose group let them go, so that rejoining the group adds them again, as a full plan does', async () => {
    const t = await setup(5);
    await runOnce(t.app, { mode: 'sync' });
    const teamA = t.groups.find((g) => g.displayName === 'team-a')!;
    const leaver = t.users.find((u) => u.id === teamA.members[0])!;
    const conversation = () => [...t.wire.conversations.values()].find((c) => c.name === 'Team a')!;
    // they leave the conversation by hand; a refresh records it, and they are not added back
    conversation().members.delete(leaver.externalId);
    const refreshed = await runOnce(t.app, { mode: 'sync', refresh: true });
    expect(refreshed.drift?.left).toBe(1);
    expect(conversation().members.has(leaver.externalId)).toBe(false);

    teamA.members = teamA.members.filter((m) => m !== leaver.id);
    t.write();
    expect((await runOnce(t.app, { mode: 'sync' })).partial?.groups).toBe(1);
    teamA.members.push(leaver.id);
    t.write();
    const rejoined = await runOnce(t.app, { mode: 'sync' });
    expect(rejoined.partial?.groups).toBe(1);
    expect(rejoined.plan.ops.map((o) => [o.op, o.key, 'members' in o ? o.members : []])).toEqual([['add', `group:dir:${teamA.id}`, [leaver.externalId]]]);
    expect(conversation().members.has(leaver.externalId)).toBe(true);
  });
});
