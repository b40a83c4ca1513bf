import { snapshotDigest } from './digest.js';
import { alike, byCodeUnit as cmp, diffRefs, MemberList, namesOf } from '../members/member-list.js';
import type {
  BlockedOp,
  BlockKind,
  DesiredConversation,
  OpType,
  Plan,
  PlanInput,
  PlanOp,
  PlanSummary,
  RemoveOp,
  SnapshotConversation,
} from './types.js';

const OP_ORDER: Record<OpType, number> = { contact: 0, create: 1, rebind: 2, rename: 3, remove: 4, add: 5, unbind: 6, archive: 7, delete: 8 };

// binding a conversation again is what creating it would be, without a second conversation
const POLICY_ALLOWS: Record<PlanInput['policy'], ReadonlySet<OpType>> = {
  sync: new Set(['contact', 'create', 'rebind', 'rename', 'remove', 'add', 'unbind', 'archive', 'delete']),
  'upsert-only': new Set(['contact', 'create', 'rebind', 'rename', 'add', 'unbind']),
  'create-only': new Set(['contact', 'create', 'rebind']),
};

/** ops a tripped guard holds back until approved */
const HELD_BY_GUARD: ReadonlySet<OpType> = new Set(['delete', 'archive', 'unbind']);

interface RemovalCandidate {
  op: RemoveOp;
  /** members before the run, the daemon not counted */
  size: number;
}

/**
 * The plan: what must change so the owned conversations match the directory. Pure and
 * deterministic: the same input gives the same plan, ops in a stable order, so a saved plan can be
 * reviewed and applied as-is.
 */
export function computePlan(input: PlanInput): Plan {
  const { ownerId, selfId, policy, guards } = input;
  const allowed = POLICY_ALLOWS[policy];
  const ops: PlanOp[] = [];
  const blocked: BlockedOp[] = [];
  const warnings = [...input.warnings];
  const never = new Set([selfId, ...guards.protect]);
  const snapshotByKey = new Map(input.snapshot.conversations.map((c) => [c.key, c]));
  const unboundByKey = new Map((input.snapshot.unbound ?? []).filter((c) => c.ownerId === ownerId).map((c) => [c.key, c]));
  ops.push(...(input.newUsers ?? []));
  const desired = [...input.desired].sort((a, b) => cmp(a.key, b.key));
  const desiredKeys = new Set(desired.map((d) => d.key));

  const block = (kind: BlockKind, why: string, op: PlanOp) => blocked.push({ kind, why, op });
  /** the daemon is never invited: it is in every conversation it makes */
  const withoutSelf = (list: MemberList): Int32Array => {
    const self = list.users.find(selfId);
    return self !== undefined && list.hasRef(self) ? list.refs.filter((r) => r !== self) : list.refs;
  };
  /** adds wait until the guard has decided whether the removals go ahead (capacity depends on it) */
  const pendingAdds: { d: DesiredConversation; snap: SnapshotConversation; adds: string[] }[] = [];
  const removals: RemovalCandidate[] = [];

  const gone = new Set(input.snapshot.gone ?? []);
  let unmanageable = 0;
  // owned conversations no group wants any more, by name: a desired one of the same name takes them over
  const leaving = new Map<string, SnapshotConversation[]>();
  for (const c of input.snapshot.conversations) {
    if (c.ownerId !== ownerId || desiredKeys.has(c.key) || c.groups.some((g) => input.incompleteSources.includes(sourceOfGroup(g)))) continue;
    leaving.set(c.name, [...(leaving.get(c.name) ?? []), c]);
  }
  const claimed = new Set<string>();
  /** the one conversation leaving under this name, if there is exactly one */
  const claimLeaving = (name: string): SnapshotConversation | undefined => {
    const candidates = (leaving.get(name) ?? []).filter((c) => !claimed.has(c.key));
    if (candidates.length !== 1) return undefined;
    claimed.add(candidates[0]!.key);
    return candidates[0];
  };
  const refused = input.refused ?? new Map<string, string>();
  const refusedNow = new Set<string>();
  /** a user the backend refused lately is not offered again (one bad user blocks nobody) */
  const withoutRefused = (list: string[]): string[] => {
    if (refused.size === 0) return list;
    return list.filter((m) => {
      if (!refused.has(m)) return true;
      refusedNow.add(m);
      return false;
    });
  };
  for (const d of desired) {
    let snap = snapshotByKey.get(d.key);
    const letGo = snap ? undefined : unboundByKey.get(d.key);
    if (letGo) {
      ops.push({ op: 'rebind', key: d.key, name: letGo.name, conversationId: letGo.conversationId, reason: `${reasonOf(d)}; the group is back` });
      snap = letGo;
    }
    const renamedKey = snap || gone.has(d.key) ? undefined : claimLeaving(d.name);
    if (renamedKey) {
      // the same conversation under a new key (a source renamed, a mapping changed): moved, not made again
      ops.push({ op: 'rebind', key: d.key, fromKey: renamedKey.key, name: renamedKey.name, conversationId: renamedKey.conversationId, reason: `${reasonOf(d)}; was ${renamedKey.key}` });
      snap = renamedKey;
    }
    if (!snap) {
      const wanted = namesOf(d.members.users, withoutSelf(d.members));
      if (input.inFlight?.has(d.key)) {
        const op: PlanOp = { op: 'create', key: d.key, name: d.name, members: wanted, groups: d.groups, onGroupRemoved: d.onGroupRemoved, reason: reasonOf(d) };
        block('pending', 'an earlier create lost its answer and is still looked for: not made a second time', op);
        continue;
      }
      if (gone.has(d.key) && !d.recreateDeleted) {
        const op: PlanOp = { op: 'create', key: d.key, name: d.name, members: wanted, groups: d.groups, onGroupRemoved: d.onGroupRemoved, reason: reasonOf(d) };
        block('drift', 'the conversation was deleted by hand; not created again (recreateDeleted: false)', op);
        continue;
      }
      planCreate(d, withoutRefused(wanted));
      continue;
    }
    if (snap.ownerId !== ownerId) {
      warnings.push(`conversation ${snap.conversationId} (${d.key}) is owned by "${snap.ownerId}", not "${ownerId}": left alone`);
      continue;
    }
    if (snap.name !== d.name) {
      const op: PlanOp = { op: 'rename', key: d.key, name: d.name, conversationId: snap.conversationId, from: snap.name, to: d.name, reason: reasonOf(d) };
      if (allowed.has('rename')) ops.push(op);
      else block('policy', `policy ${policy} does not rename`, op);
    }

    // numbers compared, ids only for the few that differ
    const [want, have] = alike(d.members, snap.members);
    const diff = diffRefs(withoutSelf(want), have.refs);
    const missing = namesOf(want.users, diff.missing);
    const toRemove: string[] = [];
    if (d.remove !== 'never') {
      for (const ref of diff.extra) {
        if (d.remove === 'managed' && have.originOf(ref) !== 'convsync') continue;
        const member = have.users.name(ref);
        if (!never.has(member)) toRemove.push(member);
      }
    }
    // a group that fed this conversation last time and is missing now because its source was read
    // incompletely: its members are unknown, not gone
    if (snap.unmanageable) {
      // nothing is sent that the backend refuses for good; its members are not taken as gone either
      unmanageable++;
      warnings.push(`${d.key} ("${snap.name}", ${snap.conversationId}) cannot be kept in line: ${snap.unmanageable}`);
      const held = { key: d.key, name: snap.name, conversationId: snap.conversationId, reason: reasonOf(d) };
      if (toRemove.length > 0) block('unmanageable', snap.unmanageable, { op: 'remove', ...held, members: toRemove.sort(cmp) });
      if (missing.length > 0) block('unmanageable', snap.unmanageable, { op: 'add', ...held, members: missing });
      continue;
    }
    const unlisted = snap.groups.filter((g) => !d.groups.includes(g) && input.incompleteSources.includes(sourceOfGroup(g)));
    const unknownReasons = [...d.unknownReasons, ...unlisted.map((g) => `${g} not listed by an incompletely read source`)];
    if (toRemove.length > 0) {
      toRemove.sort(cmp);
      const why = d.remove === 'managed' ? 'added by convsync, no longer in' : 'not in';
      const op: RemoveOp = {
        op: 'remove',
        key: d.key,
        name: snap.name,
        conversationId: snap.conversationId,
        members: toRemove,
        reason: `${why} ${d.groups.join(', ')} (mapping #${d.rule}, remove: ${d.remove})`,
      };
      if (d.suspect) block('guard', `held back by guards: ${unknownReasons.join('; ')}`, op);
      else if (unknownReasons.length > 0) block('frozen', `membership unknown, removals frozen: ${unknownReasons.join('; ')}`, op);
      else if (!allowed.has('remove')) block('policy', `policy ${policy} does not remove`, op);
      else removals.push({ op, size: snap.members.size });
    }

    const leavers = new Set(d.readdLeavers ? [] : (snap.leavers ?? []));
    const adds = withoutRefused(leavers.size === 0 ? missing : missing.filter((m) => !leavers.has(m)));
    const held = leavers.size === 0 ? [] : missing.filter((m) => leavers.has(m));
    if (adds.length > 0) pendingAdds.push({ d, snap, adds });
    if (held.length > 0) {
      const op: PlanOp = { op: 'add', key: d.key, name: d.name, conversationId: snap.conversationId, members: held, reason: reasonOf(d) };
      block('drift', 'left the conversation on their own; not added again while still in the group (readdLeavers: false)', op);
    }
  }

  for (const snap of [...input.snapshot.conversations].sort((a, b) => cmp(a.key, b.key))) {
    if (snap.ownerId !== ownerId || desiredKeys.has(snap.key) || claimed.has(snap.key)) continue;
    const unknownSource = snap.groups.map(sourceOfGroup).find((s) => input.incompleteSources.includes(s));
    if (unknownSource !== undefined) {
      warnings.push(`groups of ${snap.key} not listed, but source "${unknownSource}" was read incompletely: kept as is`);
      continue;
    }
    const reason = `groups gone from the directory: ${snap.groups.join(', ') || '(none)'}`;
    if (snap.onGroupRemoved === 'empty' && snap.unmanageable) {
      // the backend refuses its member changes: the binding goes, nothing is sent that it refuses
      unmanageable++;
      warnings.push(`${snap.key} ("${snap.name}", ${snap.conversationId}) cannot be emptied: ${snap.unmanageable}`);
    } else if (snap.onGroupRemoved === 'empty') {
      // the members convsync added go first (guarded like any removal); the binding goes once they have
      const byHand = new Set(snap.members.others().map(([m]) => m));
      const managed = snap.members.ids.filter((m) => !byHand.has(m) && !never.has(m));
      if (managed.length > 0) {
        const op: RemoveOp = { op: 'remove', key: snap.key, name: snap.name, conversationId: snap.conversationId, members: managed, reason: `${reason} (onGroupRemoved: empty)` };
        if (allowed.has('remove')) removals.push({ op, size: snap.members.size });
        else block('policy', `policy ${policy} does not remove`, op);
        continue;
      }
    }
    const kind = snap.onGroupRemoved === 'keep' || snap.onGroupRemoved === 'empty' ? 'unbind' : snap.onGroupRemoved;
    const op: PlanOp = { op: kind, key: snap.key, name: snap.name, conversationId: snap.conversationId, reason };
    if (kind !== 'unbind' && input.can && !input.can[kind]) block('policy', `the backend cannot ${kind} conversations`, op);
    else if (allowed.has(op.op)) ops.push(op);
    else block('policy', `policy ${policy} does not ${op.op}`, op);
  }

  if (refusedNow.size > 0) {
    const named = [...refusedNow].sort(cmp).map((m) => `${m} (${refused.get(m)})`);
    warnings.push(`${refusedNow.size} user(s) refused by the backend lately, not added: ${named.slice(0, 10).join(', ')}${named.length > 10 ? ', …' : ''}`);
  }
  const quarantine = [...(input.tripped ?? []), ...evaluateGuards(input, removals, ops)];
  if (quarantine.length > 0 && !input.allowRemovals) {
    const why = `held back by guards: ${quarantine.join('; ')}`;
    warnings.push(`guards tripped: ${quarantine.join('; ')}`);
    for (const r of removals) block('guard', why, r.op);
    for (let i = ops.length - 1; i >= 0; i--) {
      const op = ops[i]!;
      if (HELD_BY_GUARD.has(op.op)) {
        ops.splice(i, 1);
        block('guard', why, op);
      }
    }
  } else {
    if (quarantine.length > 0) warnings.push(`guards tripped but removals approved for this run: ${quarantine.join('; ')}`);
    // what an earlier run held back stays held until approved, whichever run meets it next
    const heldIn = (op: PlanOp) => (input.allowRemovals ? undefined : input.held?.get(`${op.op} ${op.key}`));
    const heldWhy = (run: number) => `held back by guards since run ${run}: approve it (convsync approve ${run}) or sync --allow-removals`;
    for (const r of removals) {
      const run = heldIn(r.op);
      if (run === undefined) ops.push(r.op);
      else block('guard', heldWhy(run), r.op);
    }
    for (let i = ops.length - 1; i >= 0; i--) {
      const op = ops[i]!;
      const run = HELD_BY_GUARD.has(op.op) ? heldIn(op) : undefined;
      if (run === undefined) continue;
      ops.splice(i, 1);
      block('guard', heldWhy(run), op);
    }
  }
  const removalsGo = new Set(ops.filter((o): o is RemoveOp => o.op === 'remove').map((o) => o.key));

  for (const { d, snap, adds } of pendingAdds) {
    const op: PlanOp = { op: 'add', key: d.key, name: d.name, conversationId: snap.conversationId, members: adds, reason: reasonOf(d) };
    if (!allowed.has('add')) {
      block('policy', `policy ${policy} does not add to existing conversations`, op);
      continue;
    }
    const current = snap.members.size + 1;
    const leaving = removalsGo.has(d.key) ? ops.find((o): o is RemoveOp => o.op === 'remove' && o.key === d.key)!.members.length : 0;
    const room = input.maxMembers === undefined ? Infinity : input.maxMembers - (current - leaving);
    splitByCapacity(op, room, d);
  }

  ops.sort((a, b) => cmp(a.key, b.key) || OP_ORDER[a.op] - OP_ORDER[b.op]);
  blocked.sort((a, b) => cmp(a.op.key, b.op.key) || OP_ORDER[a.op.op] - OP_ORDER[b.op.op]);

  return {
    version: 1,
    ownerId,
    policy,
    snapshotDigest: snapshotDigest(input.snapshot),
    ops,
    blocked,
    warnings,
    summary: {
      ...summarize(ops, blocked),
      quarantined: blocked.some((b) => b.kind === 'guard') || (quarantine.length > 0 && !input.allowRemovals),
      ...(unmanageable > 0 ? { unmanageable } : {}),
    },
  };

  function planCreate(d: DesiredConversation, wanted: string[]) {
    const op: PlanOp = {
      op: 'create',
      key: d.key,
      name: d.name,
      members: wanted,
      groups: d.groups,
      onGroupRemoved: d.onGroupRemoved,
      reason: reasonOf(d),
    };
    const room = input.maxMembers === undefined ? Infinity : input.maxMembers - 1;
    if (wanted.length <= room) {
      ops.push(op);
      return;
    }
    ops.push({ ...op, members: wanted.slice(0, room) });
    const rest = wanted.slice(room);
    warnings.push(capacityWarning(d, wanted.length, rest.length));
    block('capacity', `over the backend's limit of ${input.maxMembers} members`, { ...op, members: rest });
  }

  function splitByCapacity(op: PlanOp & { op: 'add' }, room: number, d: DesiredConversation) {
    if (op.members.length <= room) {
      ops.push(op);
      return;
    }
    const fit = Math.max(0, room);
    if (fit > 0) ops.push({ ...op, members: op.members.slice(0, fit) });
    const rest = op.members.slice(fit);
    warnings.push(capacityWarning(d, d.members.size, rest.length));
    block('capacity', `over the backend's limit of ${input.maxMembers} members`, { ...op, members: rest });
  }

  function capacityWarning(d: DesiredConversation, wanted: number, left: number): string {
    return `${d.key} ("${d.name}") wants ${wanted} members but the backend allows ${input.maxMembers} including convsync: ${left} not added`;
  }
}

/**
 * The per-run limits. A scoped run (a push, a SAML login) adds what the scoped runs of the window
 * already did, so a change that drips in one push at a time trips the same guard as one big run.
 */
function evaluateGuards(input: PlanInput, removals: RemovalCandidate[], ops: PlanOp[]): string[] {
  const { guards, window: w } = input;
  const reasons: string[] = [];
  const over = (now: number, before: number, max: number, what: string, limit: string) => {
    if (now === 0 || now + before <= max) return;
    const earlier = before > 0 ? ` (and ${before} more by runs after pushes or logins in the last ${w!.span})` : '';
    reasons.push(`${now} ${what}${earlier} exceed ${limit} ${max}`);
  };
  const total = removals.reduce((n, r) => n + r.op.members.length, 0);
  over(total, w?.removals ?? 0, guards.maxRemovalsPerRun, 'removals', 'maxRemovalsPerRun');
  for (const r of removals) {
    // removals of the window's earlier scoped runs count too, against the size before them
    const earlier = w?.removalsByKey?.get(r.op.key) ?? 0;
    const size = r.size + earlier;
    if (size < guards.removalRatioMinMembers || size === 0) continue;
    const ratio = (r.op.members.length + earlier) / size;
    if (ratio > guards.maxRemovalRatio) {
      const also = earlier > 0 ? ` (with ${earlier} removed by runs after pushes or logins in the last ${w!.span})` : '';
      reasons.push(`${r.op.key} would lose ${r.op.members.length + earlier} of ${size} members${also} (${pct(ratio)} > maxRemovalRatio ${pct(guards.maxRemovalRatio)})`);
    }
  }
  const deletes = ops.filter((o) => o.op === 'delete' || o.op === 'archive').length;
  over(deletes, w?.deletes ?? 0, guards.maxDeletesPerRun, 'deletes or archives', 'maxDeletesPerRun');
  const unbinds = ops.filter((o) => o.op === 'unbind').length;
  over(unbinds, w?.unbinds ?? 0, guards.maxUnbindsPerRun, 'conversations let go (unbind)', 'maxUnbindsPerRun');
  return reasons;
}

export function summarize(ops: PlanOp[], blocked: BlockedOp[]): PlanSummary {
  const s: PlanSummary = {
    contact: 0,
    create: 0,
    rebind: 0,
    add: 0,
    remove: 0,
    rename: 0,
    unbind: 0,
    archive: 0,
    delete: 0,
    membersAdded: 0,
    membersRemoved: 0,
    blocked: blocked.length,
    quarantined: blocked.some((b) => b.kind === 'guard'),
  };
  for (const op of ops) {
    s[op.op]++;
    if (op.op === 'create' || op.op === 'add') s.membersAdded += op.members.length;
    if (op.op === 'remove') s.membersRemoved += op.members.length;
  }
  return s;
}

function reasonOf(d: DesiredConversation): string {
  return `${d.groups.join(', ')} → mapping #${d.rule}`;
}

/** group keys are `<source>:<id>` */
export function sourceOfGroup(groupKey: string): string {
  const i = groupKey.indexOf(':');
  return i < 0 ? groupKey : groupKey.slice(0, i);
}

function pct(x: number): string {
  return `${Math.round(x * 1000) / 10}%`;
}

export function hasChanges(plan: Plan): boolean {
  return plan.ops.length > 0;
}
