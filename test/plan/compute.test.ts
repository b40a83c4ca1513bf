import { describe, expect, it } from 'vitest';
import { computePlan } from '../../src/plan/compute.js';
import { snapshotDigest } from '../../src/plan/digest.js';
import type { DesiredConversation, MemberOrigin, PlanInput, SnapshotConversation } from '../../src/plan/types.js';
import { MemberList } from '../../src/members/member-list.js';
import { UserIds } from '../../src/members/user-ids.js';

const SELF = 'self';
/** one numbering for wanted and known members, as in a run (the snapshot's) */
const USERS = UserIds.empty();

function desired(key: string, members: string[], extra: Partial<DesiredConversation> = {}): DesiredConversation {
  return {
    key,
    name: `Team ${key}`,
    rule: 0,
    remove: 'managed',
    onGroupRemoved: 'keep',
    readdLeavers: false,
    recreateDeleted: false,
    groups: [`corp:${key}`],
    members: MemberList.of(members, [], USERS),
    complete: true,
    unknownReasons: [],
    ...extra,
  };
}

function snap(key: string, members: Record<string, MemberOrigin>, extra: Partial<SnapshotConversation> = {}): SnapshotConversation {
  return {
    key,
    conversationId: `c-${key}`,
    ownerId: 'convsync',
    name: `Team ${key}`,
    members: MemberList.fromRecord(members, USERS),
    groups: [`corp:${key}`],
    onGroupRemoved: 'keep',
    ...extra,
  };
}

function input(d: DesiredConversation[], s: SnapshotConversation[], extra: Partial<PlanInput> = {}): PlanInput {
  return {
    desired: d,
    snapshot: { conversations: s },
    policy: 'sync',
    ownerId: 'convsync',
    selfId: SELF,
    guards: { maxRemovalsPerRun: 100, maxRemovalRatio: 0.5, removalRatioMinMembers: 0, maxDeletesPerRun: 5, maxUnbindsPerRun: 5, protect: [] },
    incompleteSources: [],
    allowRemovals: false,
    warnings: [],
    ...extra,
  };
}

function renumbered(i: PlanInput): PlanInput {
  return {
    ...i,
    desired: i.desired.map((d) => ({ ...d, members: d.members.in(UserIds.empty()) })),
    snapshot: { ...i.snapshot, conversations: i.snapshot.conversations.map((c) => ({ ...c, members: c.members.in(UserIds.empty()) })) },
  };
}

const managed = (...ids: string[]) => Object.fromEntries(ids.map((id) => [id, 'convsync' as MemberOrigin]));
const opsOf = (i: PlanInput) =>
  computePlan(i).ops.map((o) => `${o.op} ${o.key}${'members' in o ? ` ${o.members.join(',')}` : ''}${o.op === 'rename' ? ` ${o.to}` : ''}`);

describe('computePlan', () => {
  const cases: { name: string; input: PlanInput; ops: string[] }[] = [
    { name: 'creates a new conversation without the daemon among the invitees', input: input([desired('a', ['u1', 'u2', SELF])], []), ops: ['create a u1,u2'] },
    { name: 'nothing to do when desired and snapshot agree', input: input([desired('a', ['u1'])], [snap('a', managed('u1'))]), ops: [] },
    {
      name: 'adds newcomers, removes managed leavers',
      input: input([desired('a', ['u1', 'u3'])], [snap('a', managed('u1', 'u2'))]),
      ops: ['remove a u2', 'add a u3'],
    },
    {
      name: 'managed leaves members convsync did not add',
      input: input([desired('a', ['u1'])], [snap('a', { u1: 'convsync', hand: 'external' })]),
      ops: [],
    },
    {
      name: 'authoritative removes anyone not in the group, never the daemon or protected users',
      input: input(
        [desired('a', ['u1'], { remove: 'authoritative' })],
        [snap('a', { u1: 'convsync', hand: 'external', boss: 'external', [SELF]: 'external' })],
        {
          guards: { maxRemovalsPerRun: 100, maxRemovalRatio: 1, removalRatioMinMembers: 0, maxDeletesPerRun: 5, maxUnbindsPerRun: 5, protect: ['boss'] },
        },
      ),
      ops: ['remove a hand'],
    },
    { name: 'never removes nobody', input: input([desired('a', [], { remove: 'never' })], [snap('a', managed('u1'))]), ops: [] },
    { name: 'renames', input: input([desired('a', ['u1'], { name: 'New' })], [snap('a', managed('u1'))]), ops: ['rename a New'] },
    { name: 'unbinds a conversation whose groups are gone', input: input([], [snap('a', managed('u1'))]), ops: ['unbind a'] },
    { name: 'deletes it when the mapping says so', input: input([], [snap('a', managed('u1'), { onGroupRemoved: 'delete' })]), ops: ['delete a'] },
    {
      name: 'keeps a binding whose source was read incompletely',
      input: input([], [snap('a', managed('u1'))], { incompleteSources: ['corp'] }),
      ops: [],
    },
    {
      name: 'upsert-only creates, adds and renames but never removes',
      input: input([desired('a', ['u3'], { name: 'X' }), desired('b', ['u1'])], [snap('a', managed('u1'))], { policy: 'upsert-only' }),
      ops: ['rename a X', 'add a u3', 'create b u1'],
    },
    {
      name: 'create-only only creates',
      input: input([desired('a', ['u3'], { name: 'X' }), desired('b', ['u1'])], [snap('a', managed('u1'))], { policy: 'create-only' }),
      ops: ['create b u1'],
    },
    {
      name: 'leaves conversations of another owner alone',
      input: input([desired('a', ['u2'])], [snap('a', managed('u1'), { ownerId: 'someone-else' })]),
      ops: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(opsOf(c.input)).toEqual(c.ops);
      // the same plan when each list has its own numbering (the plan renumbers them alike)
      expect(opsOf(renumbered(c.input))).toEqual(c.ops);
    });
  }

  it('freezes removals of a conversation whose group is unknown, but still adds', () => {
    const plan = computePlan(input([desired('a', ['u3'], { complete: false, unknownReasons: ['page failed'] })], [snap('a', managed('u1', 'u2'))]));
    expect(plan.ops.map((o) => o.op)).toEqual(['add']);
    expect(plan.blocked).toMatchObject([{ kind: 'frozen', op: { op: 'remove', members: ['u1', 'u2'] } }]);
    expect(plan.blocked[0]!.why).toMatch(/page failed/);
    expect(plan.summary.quarantined).toBe(false);
  });

  it('freezes removals of a union whose other group was on an unread page', () => {
    const d = desired('u', ['u1'], { groups: ['corp:g1'] });
    const s = snap('u', managed('u1', 'u2'), { groups: ['corp:g1', 'corp:g2'] });
    const plan = computePlan(input([d], [s], { incompleteSources: ['corp'] }));
    expect(plan.ops).toEqual([]);
    expect(plan.blocked[0]).toMatchObject({ kind: 'frozen', op: { op: 'remove' } });
  });

  it('quarantines every removal when one conversation would lose too large a share', () => {
    const guards = { maxRemovalsPerRun: 100, maxRemovalRatio: 0.2, removalRatioMinMembers: 4, maxDeletesPerRun: 5, maxUnbindsPerRun: 5, protect: [] };
    const i = input(
      [desired('big', ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']), desired('small', ['s1', 'new'])],
      [snap('big', managed('u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8', 'u9', 'u10')), snap('small', managed('s1', 's2'))],
      { guards },
    );
    const plan = computePlan(i);
    expect(plan.ops.map((o) => `${o.op} ${o.key}`)).toEqual(['add small']);
    expect(plan.blocked.map((b) => `${b.kind} ${b.op.op} ${b.op.key}`)).toEqual(['guard remove big', 'guard remove small']);
    expect(plan.blocked[0]!.why).toMatch(/big would lose 4 of 10 members \(40% > maxRemovalRatio 20%\)/);
    expect(plan.summary.quarantined).toBe(true);

    const approved = computePlan({ ...i, allowRemovals: true });
    expect(approved.ops.map((o) => `${o.op} ${o.key}`)).toEqual(['remove big', 'remove small', 'add small']);
    expect(approved.summary.quarantined).toBe(false);
    expect(approved.warnings.join()).toMatch(/approved/);
  });

  it('quarantines past maxRemovalsPerRun and maxDeletesPerRun', () => {
    const guards = { maxRemovalsPerRun: 1, maxRemovalRatio: 1, removalRatioMinMembers: 0, maxDeletesPerRun: 0, maxUnbindsPerRun: 5, protect: [] };
    const plan = computePlan(input([desired('a', [])], [snap('a', managed('u1', 'u2')), snap('b', {}, { onGroupRemoved: 'delete' })], { guards }));
    expect(plan.ops).toEqual([]);
    expect(plan.blocked.map((b) => b.op.op)).toEqual(['remove', 'delete']);
    expect(plan.blocked[0]!.why).toMatch(/2 removals exceed maxRemovalsPerRun 1; 1 deletes or archives exceed maxDeletesPerRun 0/);
  });

  it('a suspect group (read empty after having members) is held by the guard', () => {
    const plan = computePlan(
      input([desired('a', [], { complete: false, suspect: true, unknownReasons: ['came back with no members'] })], [snap('a', managed('u1'))]),
    );
    expect(plan.blocked[0]).toMatchObject({ kind: 'guard' });
    expect(plan.summary.quarantined).toBe(true);
  });

  it('holds members beyond the backend capacity with a warning', () => {
    const members = Array.from({ length: 7 }, (_, i) => `u${i}`);
    const create = computePlan(input([desired('a', members)], [], { maxMembers: 5 }));
    expect(create.ops).toMatchObject([{ op: 'create', members: ['u0', 'u1', 'u2', 'u3'] }]);
    expect(create.blocked).toMatchObject([{ kind: 'capacity', op: { members: ['u4', 'u5', 'u6'] } }]);
    expect(create.warnings[0]).toMatch(/wants 7 members but the backend allows 5/);

    // removals make room for adds in the same run
    const add = computePlan(input([desired('a', ['u0', 'u1', 'u2', 'n1', 'n2'])], [snap('a', managed('u0', 'u1', 'u2', 'old'))], { maxMembers: 6 }));
    expect(add.ops).toMatchObject([
      { op: 'remove', members: ['old'] },
      { op: 'add', members: ['n1', 'n2'] },
    ]);
    expect(add.blocked).toEqual([]);
  });

  it('is deterministic: same input in any order, same plan', () => {
    const d = [desired('b', ['u2', 'u1']), desired('a', ['u3'])];
    const s = [snap('c', managed('x')), snap('b', managed('u9'))];
    const guards = { maxRemovalsPerRun: 100, maxRemovalRatio: 1, removalRatioMinMembers: 0, maxDeletesPerRun: 5, maxUnbindsPerRun: 5, protect: [] };
    const one = computePlan(input(d, s, { guards }));
    const two = computePlan(input([...d].reverse(), [...s].reverse(), { guards }));
    expect(two).toEqual(one);
    expect(one.ops.map((o) => `${o.op} ${o.key}`)).toEqual(['create a', 'remove b', 'add b', 'unbind c']);
    expect(JSON.parse(JSON.stringify(one))).toEqual(one);
    expect(one.snapshotDigest).toBe(snapshotDigest({ conversations: s }));
  });

  it('does not add back a member who left on their own, unless readdLeavers', () => {
    const s = snap('a', managed('u1'), { leavers: ['u2'] });
    const plan = computePlan(input([desired('a', ['u1', 'u2', 'u3'])], [s]));
    expect(plan.ops).toMatchObject([{ op: 'add', members: ['u3'] }]);
    expect(plan.blocked).toMatchObject([{ kind: 'drift', op: { op: 'add', members: ['u2'] } }]);
    expect(plan.blocked[0]!.why).toMatch(/left the conversation on their own/);
    const readd = computePlan(input([desired('a', ['u1', 'u2', 'u3'], { readdLeavers: true })], [s]));
    expect(readd.ops).toMatchObject([{ op: 'add', members: ['u2', 'u3'] }]);
  });

  it('does not recreate a conversation deleted by hand, unless recreateDeleted', () => {
    const gone = { conversations: [], gone: ['a'] };
    const plan = computePlan({ ...input([desired('a', ['u1'])], []), snapshot: gone });
    expect(plan.ops).toEqual([]);
    expect(plan.blocked).toMatchObject([{ kind: 'drift', op: { op: 'create' } }]);
    const again = computePlan({ ...input([desired('a', ['u1'], { recreateDeleted: true })], []), snapshot: gone });
    expect(again.ops).toMatchObject([{ op: 'create', key: 'a' }]);
  });

  it('archives a conversation whose groups are gone when the backend can; says why when it cannot', () => {
    const s = [snap('a', managed('u1'), { onGroupRemoved: 'archive' })];
    expect(opsOf(input([], s, { can: { archive: true, delete: true } }))).toEqual(['archive a']);
    const blocked = computePlan(input([], s, { can: { archive: false, delete: true } }));
    expect(blocked.ops).toEqual([]);
    expect(blocked.blocked).toMatchObject([{ kind: 'policy', why: 'the backend cannot archive conversations' }]);
    expect(opsOf(input([], s, { policy: 'upsert-only' }))).toEqual([]);
  });

  it("empties a gone group's conversation of the members convsync added, then unbinds it", () => {
    const guards = { maxRemovalsPerRun: 100, maxRemovalRatio: 1, removalRatioMinMembers: 0, maxDeletesPerRun: 5, maxUnbindsPerRun: 5, protect: ['boss'] };
    const full = snap('a', { u1: 'convsync', u2: 'convsync', hand: 'external', boss: 'convsync' }, { onGroupRemoved: 'empty' });
    expect(opsOf(input([], [full], { guards }))).toEqual(['remove a u1,u2']);
    const emptied = snap('a', { hand: 'external', boss: 'convsync' }, { onGroupRemoved: 'empty' });
    expect(opsOf(input([], [emptied], { guards }))).toEqual(['unbind a']);
    // guarded like any removal
    expect(computePlan(input([], [full], { guards: { ...guards, maxRemovalsPerRun: 1 } })).summary.quarantined).toBe(true);
  });

  it('gives every op its reason', () => {
    const plan = computePlan(input([desired('a', ['u1'], { rule: 2, groups: ['corp:g1', 'corp:g2'] })], []));
    expect(plan.ops[0]!.reason).toBe('corp:g1, corp:g2 → mapping #2');
  });
});

describe('snapshotDigest', () => {
  it('changes with any member, name or origin, not with order', () => {
    const a = { conversations: [snap('a', managed('u1', 'u2')), snap('b', {})] };
    expect(snapshotDigest({ conversations: [...a.conversations].reverse() })).toBe(snapshotDigest(a));
    expect(snapshotDigest({ conversations: [snap('a', managed('u1')), snap('b', {})] })).not.toBe(snapshotDigest(a));
    expect(snapshotDigest({ conversations: [snap('a', { u1: 'convsync', u2: 'external' }), snap('b', {})] })).not.toBe(snapshotDigest(a));
    expect(snapshotDigest({ conversations: [snap('a', managed('u1', 'u2'), { name: 'x' }), snap('b', {})] })).not.toBe(snapshotDigest(a));
  });

  it('tells apart members that have the same number in different numberings', () => {
    const one = UserIds.empty();
    const other = UserIds.empty();
    const a = snap('a', {}, { members: MemberList.of(['u1'], [], one) });
    const b = snap('a', {}, { members: MemberList.of(['u9'], [], other) });
    expect(a.members.refs).toEqual(b.members.refs);
    expect(snapshotDigest({ conversations: [a] })).not.toBe(snapshotDigest({ conversations: [b] }));
    expect(snapshotDigest({ conversations: [a] })).toBe(snapshotDigest({ conversations: [snap('a', {}, { members: MemberList.of(['u1'], [], one) })] }));
  });

  it('holds unbinds past maxUnbindsPerRun with the removals, and counts the window of scoped runs', () => {
    const guards = { maxRemovalsPerRun: 100, maxRemovalRatio: 1, removalRatioMinMembers: 0, maxDeletesPerRun: 2, maxUnbindsPerRun: 1, protect: [] };
    const two = computePlan(input([], [snap('a', {}), snap('b', {})], { guards }));
    expect(two.ops).toEqual([]);
    expect(two.blocked.map((b) => `${b.kind} ${b.op.op}`)).toEqual(['guard unbind', 'guard unbind']);
    expect(two.summary.quarantined).toBe(true);
    expect(computePlan(input([], [snap('a', {})], { guards })).ops.map((o) => o.op)).toEqual(['unbind']);

    // one delete now, two already by pushes in the window: three in the window, more than 2
    const del = [snap('a', {}, { onGroupRemoved: 'delete' })];
    expect(computePlan(input([], del, { guards })).ops.map((o) => o.op)).toEqual(['delete']);
    const windowed = computePlan(input([], del, { guards, window: { removals: 0, deletes: 2, unbinds: 0, span: '1h' } }));
    expect(windowed.ops).toEqual([]);
    expect(windowed.blocked[0]!.why).toMatch(/1 deletes or archives \(and 2 more by runs after pushes or logins in the last 1h\) exceed maxDeletesPerRun 2/);
    // what the window did alone trips nothing in a run that removes nothing of that kind
    expect(computePlan(input([desired('b', ['u1'])], [], { guards, window: { removals: 500, deletes: 9, unbinds: 9, span: '1h' } })).summary.quarantined).toBe(
      false,
    );
  });

  it('binds a conversation let go again instead of creating a second one, and brings it up to date', () => {
    const letGo = snap('a', managed('u1', 'u2'), { name: 'Team old' });
    const plan = computePlan({ ...input([desired('a', ['u1', 'u3'])], []), snapshot: { conversations: [], unbound: [letGo] } });
    expect(plan.ops.map((o) => `${o.op}${'members' in o ? ` ${o.members.join(',')}` : ''}`)).toEqual(['rebind', 'rename', 'remove u2', 'add u3']);
    expect(plan.ops.every((o) => o.op === 'create' || ('conversationId' in o && o.conversationId === 'c-a'))).toBe(true);
    // someone else's conversation is never bound again
    const theirs = computePlan({ ...input([desired('a', ['u1'])], []), snapshot: { conversations: [], unbound: [{ ...letGo, ownerId: 'other' }] } });
    expect(theirs.ops.map((o) => o.op)).toEqual(['create']);
  });

  it('leaves users the backend refused lately out of creates and adds, with one warning', () => {
    const refused = new Map([['u2', 'not-connected']]);
    const plan = computePlan(input([desired('a', ['u1', 'u2']), desired('b', ['u1', 'u2', 'u3'])], [snap('b', managed('u1'))], { refused }));
    expect(plan.ops).toMatchObject([
      { op: 'create', key: 'a', members: ['u1'] },
      { op: 'add', key: 'b', members: ['u3'] },
    ]);
    expect(plan.warnings).toEqual(['1 user(s) refused by the backend lately, not added: u2 (not-connected)']);
  });

  it('moves a conversation to the new key of its group (a source renamed) instead of making a second one', () => {
    const old = snap('corp-a', managed('u1', 'u2'), { name: 'Team a', groups: ['corp:a'] });
    const plan = computePlan(input([desired('okta-a', ['u1', 'u3'], { name: 'Team a', groups: ['okta:a'] })], [old]));
    expect(plan.ops.map((o) => `${o.op} ${o.key}${o.op === 'rebind' ? ` from ${o.fromKey}` : ''}`)).toEqual([
      'rebind okta-a from corp-a',
      'remove okta-a',
      'add okta-a',
    ]);
    // two leaving under one name: which is meant is unclear, so nothing is moved
    const two = computePlan(input([desired('okta-a', ['u1'], { name: 'Team a' })], [old, snap('corp-b', managed('u1'), { name: 'Team a' })]));
    expect(two.ops.map((o) => o.op)).toEqual(['unbind', 'unbind', 'create']);
  });

  it('sends no removal to a conversation the backend no longer lets convsync manage, whose group is gone', () => {
    const mls = snap('a', managed('u1', 'u2'), { onGroupRemoved: 'empty', unmanageable: 'an MLS group conversation' });
    const plan = computePlan(input([], [mls]));
    expect(plan.ops.map((o) => o.op)).toEqual(['unbind']);
    expect(plan.summary.unmanageable).toBe(1);
  });
});
