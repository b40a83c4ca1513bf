import { byCodeUnit as cmp } from '../members/member-list.js';
import { sourceOfGroup } from '../group-key.js';
import type { PlanBuilder } from './builder.js';
import type { PlanOp, RemoveOp, SnapshotConversation } from './types.js';

/**
 * Owned conversations no group wants any more: by `onGroupRemoved`, let go (unbind), emptied
 * (removals first, then let go), archived or deleted. A source read incompletely keeps them as
 * they are: their groups are unknown, not gone.
 */
export function planLeftBehind(b: PlanBuilder): void {
  const { input } = b;
  const desiredKeys = new Set(input.desired.map((d) => d.key));
  for (const snap of [...input.snapshot.conversations].sort((x, y) => cmp(x.key, y.key))) {
    if (snap.ownerId !== input.ownerId || desiredKeys.has(snap.key) || b.claimed.has(snap.key) || input.neverLetGo?.has(snap.key)) continue;
    const unknownSource = snap.groups.map(sourceOfGroup).find((s) => input.incompleteSources.includes(s));
    if (unknownSource !== undefined) {
      b.warnings.push(`groups of ${snap.key} not listed, but source "${unknownSource}" was read incompletely: kept as is`);
      continue;
    }
    if (snap.onGroupRemoved === 'empty' && emptyFirst(b, snap)) continue;
    const kind = snap.onGroupRemoved === 'keep' || snap.onGroupRemoved === 'empty' ? 'unbind' : snap.onGroupRemoved;
    const op: PlanOp = { op: kind, key: snap.key, name: snap.name, conversationId: snap.conversationId, reason: goneReason(snap) };
    if (kind !== 'unbind' && input.can && !input.can[kind]) b.block('policy', `the backend cannot ${kind} conversations`, op);
    else b.allowOrBlock(op, op.op);
  }
}

/** `onGroupRemoved: empty`: true when members convsync added must go first (the binding goes once they have) */
function emptyFirst(b: PlanBuilder, snap: SnapshotConversation): boolean {
  if (snap.unmanageable) {
    // the backend refuses its member changes: the binding goes, nothing is sent that it refuses
    b.unmanageable++;
    b.warnings.push(`${snap.key} ("${snap.name}", ${snap.conversationId}) cannot be emptied: ${snap.unmanageable}`);
    return false;
  }
  const byHand = new Set(snap.members.others().map(([m]) => m));
  const managed = snap.members.ids.filter((m) => !byHand.has(m) && !b.never.has(m));
  if (managed.length === 0) return false;
  const op: RemoveOp = {
    op: 'remove',
    key: snap.key,
    name: snap.name,
    conversationId: snap.conversationId,
    members: managed,
    reason: `${goneReason(snap)} (onGroupRemoved: empty)`,
  };
  if (b.allowed.has('remove')) b.removals.push({ op, size: snap.members.size });
  else b.block('policy', `policy ${b.input.policy} does not remove`, op);
  return true;
}

function goneReason(snap: SnapshotConversation): string {
  return `groups gone from the directory: ${snap.groups.join(', ') || '(none)'}`;
}
