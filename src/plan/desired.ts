import { alike, byCodeUnit as cmp, diffRefs, namesOf } from '../members/member-list.js';
import { sourceOfGroup } from '../group-key.js';
import { reasonOf, type PlanBuilder } from './builder.js';
import type { DesiredConversation, PlanOp, RemoveOp, SnapshotConversation } from './types.js';

/** One desired conversation: bound (again), made, renamed, and its members added and removed. */
export function planDesired(b: PlanBuilder, d: DesiredConversation): void {
  const snap = bindingOf(b, d);
  if (!snap) {
    planMissing(b, d);
    return;
  }
  if (snap.ownerId !== b.input.ownerId) {
    b.warnings.push(`conversation ${snap.conversationId} (${d.key}) is owned by "${snap.ownerId}", not "${b.input.ownerId}": left alone`);
    return;
  }
  if (snap.name !== d.name) {
    const op: PlanOp = { op: 'rename', key: d.key, name: d.name, conversationId: snap.conversationId, from: snap.name, to: d.name, reason: reasonOf(d) };
    const refused = b.nameRefused(d.name);
    if (refused) b.block('capacity', refused, op);
    else b.allowOrBlock(op, 'rename');
  }
  planMembers(b, d, snap);
}

/** the conversation a key has: bound, let go earlier (bound again), or left behind under another key of the same name */
function bindingOf(b: PlanBuilder, d: DesiredConversation): SnapshotConversation | undefined {
  const bound = b.snapshotByKey.get(d.key);
  if (bound) return bound;
  const letGo = b.unboundByKey.get(d.key);
  if (letGo) {
    b.ops.push({ op: 'rebind', key: d.key, name: letGo.name, conversationId: letGo.conversationId, reason: `${reasonOf(d)}; the group is back` });
    return letGo;
  }
  const renamed = b.gone.has(d.key) ? undefined : b.claimLeaving(d.name);
  if (renamed) {
    // the same conversation under a new key (a source renamed, a mapping changed): moved, not made again
    b.ops.push({
      op: 'rebind',
      key: d.key,
      fromKey: renamed.key,
      name: renamed.name,
      conversationId: renamed.conversationId,
      reason: `${reasonOf(d)}; was ${renamed.key}`,
    });
  }
  return renamed;
}

/** no conversation yet: made, unless a lost create is still looked for or it was deleted by hand */
function planMissing(b: PlanBuilder, d: DesiredConversation): void {
  const wanted = namesOf(d.members.users, b.withoutSelf(d.members));
  const op: PlanOp = { op: 'create', key: d.key, name: d.name, members: wanted, groups: d.groups, onGroupRemoved: d.onGroupRemoved, reason: reasonOf(d) };
  const nameRefused = b.nameRefused(d.name);
  if (b.input.inFlight?.has(d.key)) b.block('pending', 'an earlier create lost its answer and is still looked for: not made a second time', op);
  else if (b.gone.has(d.key) && !d.recreateDeleted) b.block('drift', 'the conversation was deleted by hand; not created again (recreateDeleted: false)', op);
  else if (nameRefused) b.block('capacity', nameRefused, op);
  else b.create(d, b.withoutRefused(wanted));
}

function planMembers(b: PlanBuilder, d: DesiredConversation, snap: SnapshotConversation): void {
  // numbers compared, ids only for the few that differ
  const [want, have] = alike(d.members, snap.members);
  const diff = diffRefs(b.withoutSelf(want), have.refs);
  const missing = namesOf(want.users, diff.missing);
  const toRemove: string[] = [];
  if (d.remove !== 'never') {
    for (const ref of diff.extra) {
      if (d.remove === 'managed' && have.originOf(ref) !== 'convsync') continue;
      const member = have.users.name(ref);
      if (!b.never.has(member)) toRemove.push(member);
    }
  }
  toRemove.sort(cmp);
  if (snap.unmanageable) {
    // nothing is sent that the backend refuses for good; its members are not taken as gone either
    b.unmanageable++;
    b.warnings.push(`${d.key} ("${snap.name}", ${snap.conversationId}) cannot be kept in line: ${snap.unmanageable}`);
    const held = { key: d.key, name: snap.name, conversationId: snap.conversationId, reason: reasonOf(d) };
    if (toRemove.length > 0) b.block('unmanageable', snap.unmanageable, { op: 'remove', ...held, members: toRemove });
    if (missing.length > 0) b.block('unmanageable', snap.unmanageable, { op: 'add', ...held, members: missing });
    return;
  }
  if (toRemove.length > 0) planRemoval(b, d, snap, toRemove);
  const leavers = new Set(d.readdLeavers ? [] : (snap.leavers ?? []));
  const adds = b.withoutRefused(leavers.size === 0 ? missing : missing.filter((m) => !leavers.has(m)));
  const held = leavers.size === 0 ? [] : missing.filter((m) => leavers.has(m));
  if (adds.length > 0) b.pendingAdds.push({ d, snap, adds });
  if (held.length > 0) {
    const op: PlanOp = { op: 'add', key: d.key, name: d.name, conversationId: snap.conversationId, members: held, reason: reasonOf(d) };
    b.block('drift', 'left the conversation on their own; not added again while still in the group (readdLeavers: false)', op);
  }
}

/** removals wait for the guards, unless frozen (membership unknown), suspect or not allowed */
function planRemoval(b: PlanBuilder, d: DesiredConversation, snap: SnapshotConversation, members: string[]): void {
  // a group that fed this conversation last time and is missing now because its source was read
  // incompletely: its members are unknown, not gone
  const unlisted = snap.groups.filter((g) => !d.groups.includes(g) && b.input.incompleteSources.includes(sourceOfGroup(g)));
  const unknownReasons = [...d.unknownReasons, ...unlisted.map((g) => `${g} not listed by an incompletely read source`)];
  const why = d.remove === 'managed' ? 'added by convsync, no longer in' : 'not in';
  const op: RemoveOp = {
    op: 'remove',
    key: d.key,
    name: snap.name,
    conversationId: snap.conversationId,
    members,
    reason: `${why} ${d.groups.join(', ')} (mapping #${d.rule}, remove: ${d.remove})`,
  };
  if (d.suspect) b.block('guard', `held back by guards: ${unknownReasons.join('; ')}`, op);
  else if (unknownReasons.length > 0) b.block('frozen', `membership unknown, removals frozen: ${unknownReasons.join('; ')}`, op);
  else if (!b.allowed.has('remove')) b.block('policy', `policy ${b.input.policy} does not remove`, op);
  else b.removals.push({ op, size: snap.members.size });
}
