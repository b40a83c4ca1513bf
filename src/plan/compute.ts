import { snapshotDigest } from './digest.js';
import { byCodeUnit as cmp } from '../members/member-list.js';
import { PlanBuilder, reasonOf } from './builder.js';
import { planDesired } from './desired.js';
import { applyGuards } from './guards.js';
import { planLeftBehind } from './left-behind.js';
import type { AddOp, BlockedOp, OpType, Plan, PlanInput, PlanOp, PlanSummary, RemoveOp } from './types.js';

const OP_ORDER: Record<OpType, number> = { contact: 0, create: 1, rebind: 2, rename: 3, remove: 4, add: 5, unbind: 6, archive: 7, delete: 8 };

/**
 * The plan: what must change so the owned conversations match the directory. Pure and
 * deterministic: the same input gives the same plan, ops in a stable order, so a saved plan can be
 * reviewed and applied as-is. In stages, each in its file: every desired conversation
 * (desired.ts), the conversations left behind (left-behind.ts), the guards (guards.ts), then the
 * adds, which fit in the room the removals that go leave.
 */
export function computePlan(input: PlanInput): Plan {
  const b = new PlanBuilder(input);
  for (const d of [...input.desired].sort((x, y) => cmp(x.key, y.key))) planDesired(b, d);
  planLeftBehind(b);
  b.warnRefused();
  const quarantine = applyGuards(b);
  planAdds(b);
  b.ops.sort((x, y) => cmp(x.key, y.key) || OP_ORDER[x.op] - OP_ORDER[y.op]);
  b.blocked.sort((x, y) => cmp(x.op.key, y.op.key) || OP_ORDER[x.op.op] - OP_ORDER[y.op.op]);
  return {
    version: 1,
    ownerId: input.ownerId,
    policy: input.policy,
    snapshotDigest: input.snapshotIsPart ? '' : snapshotDigest(input.snapshot),
    ops: b.ops,
    blocked: b.blocked,
    warnings: b.warnings,
    summary: {
      ...summarize(b.ops, b.blocked),
      quarantined: b.blocked.some((x) => x.kind === 'guard') || (quarantine.length > 0 && !input.allowRemovals),
      ...(b.unmanageable > 0 ? { unmanageable: b.unmanageable } : {}),
    },
  };
}

/** adds, in the room a conversation has once this run's removals that go are done */
function planAdds(b: PlanBuilder): void {
  const { input } = b;
  const removing = new Map(b.ops.filter((o): o is RemoveOp => o.op === 'remove').map((o) => [o.key, o.members.length]));
  for (const { d, snap, adds } of b.pendingAdds) {
    const op: AddOp = { op: 'add', key: d.key, name: d.name, conversationId: snap.conversationId, members: adds, reason: reasonOf(d) };
    if (!b.allowed.has('add')) {
      b.block('policy', `policy ${input.policy} does not add to existing conversations`, op);
      continue;
    }
    const current = snap.members.size + 1;
    const room = input.maxMembers === undefined ? Infinity : input.maxMembers - (current - (removing.get(d.key) ?? 0));
    b.add(op, room, d);
  }
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

export function hasChanges(plan: Plan): boolean {
  return plan.ops.length > 0;
}
