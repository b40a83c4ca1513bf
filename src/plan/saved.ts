import { POLICY_ALLOWS } from './builder.js';
import { evaluateGuards, HELD_SINCE, reboundFrom } from './guards.js';
import type { Guards, Plan, PlanInput, PlanOp, RemoveOp, Snapshot } from './types.js';

/**
 * Why a saved plan (made before the configuration changed, or edited by hand) must not be applied,
 * checked against the snapshot it was made on (its digest matched) and the configuration now:
 * an op the policy never makes, a second conversation for a key, removals, deletes, archives or
 * unbinds past the guards or held back by an earlier run. Undefined: it may be applied.
 */
export function savedPlanRefusal(
  plan: Plan,
  snapshot: Snapshot,
  now: { policy: PlanInput['policy']; guards: Guards; held: ReadonlyMap<string, number> },
): string | undefined {
  const allowed = POLICY_ALLOWS[now.policy];
  const notAllowed = plan.ops.find((op) => !allowed.has(op.op));
  if (notAllowed) return `the plan would ${notAllowed.op} "${notAllowed.name}", which policy ${now.policy} never does; make a new plan`;
  // a key bound (to any owner), or let go by this owner (a plan binds it again instead), has its conversation
  const letGo = (snapshot.unbound ?? []).filter((c) => c.ownerId === plan.ownerId);
  const taken = new Set([...snapshot.conversations, ...letGo].map((c) => c.key));
  const created = new Set<string>();
  for (const op of plan.ops) {
    if (op.op !== 'create') continue;
    if (taken.has(op.key) || created.has(op.key))
      return `the plan creates "${op.name}" (${op.key}), which has a conversation already: it would be made twice; make a new plan`;
    created.add(op.key);
  }
  // a conversation the plan binds again under a new key: what was held, and its size, are under the old one
  const movedFrom = reboundFrom(plan.ops);
  const keysOf = (key: string) => [key, ...(movedFrom.has(key) ? [movedFrom.get(key)!] : [])];
  for (const op of plan.ops) {
    const run = keysOf(op.key)
      .map((k) => now.held.get(`${op.op} ${k}`))
      .find((r) => r !== undefined);
    if (run !== undefined) return `the plan would ${op.op} "${op.name}", ${HELD_SINCE} ${run}: approve it (convsync approve ${run})`;
  }
  const sizes = new Map(snapshot.conversations.map((c) => [c.key, c.members.size]));
  // one conversation's removals counted together, as the plan makes them (one op split in two is the same share)
  const byKey = new Map<string, RemoveOp>();
  for (const op of plan.ops) {
    if (op.op !== 'remove') continue;
    const before = byKey.get(op.key);
    byKey.set(op.key, before ? { ...before, members: [...new Set([...before.members, ...op.members])] } : op);
  }
  const removals = [...byKey.values()].map((op) => ({
    op,
    size:
      keysOf(op.key)
        .map((k) => sizes.get(k))
        .find((n) => n !== undefined) ?? 0,
  }));
  const tripped = evaluateGuards({ guards: now.guards }, removals, plan.ops);
  if (tripped.length > 0) return `the plan goes past the guards (${tripped.join('; ')}): held back, as a sync would (convsync sync --allow-removals)`;
  return undefined;
}

/**
 * Why a saved plan's ops are not those convsync planned: each op of the file must be one the run
 * that made it recorded (`madeBy`: its mode and plan), as often (ops may be left out, none added or
 * changed: a hand-edited op could add anyone to, or rename, a conversation convsync owns).
 * Undefined: they are.
 */
export function editedOps(
  plan: Plan,
  madeBy: (run: number) => { mode: string | undefined; plan: Plan | undefined },
  same: (op: PlanOp) => PlanOp,
): string | undefined {
  if (plan.ops.length === 0) return undefined;
  if (plan.runId === undefined) return 'the plan names no run of convsync plan that made it (made by an earlier version, or edited); make a new plan';
  const made = madeBy(plan.runId);
  if (made.mode !== 'plan' || made.plan === undefined)
    return `run ${plan.runId} is no convsync plan whose plan is still recorded (retention.plans may have pruned it); make a new plan`;
  // the ops were planned on one snapshot: another's digest (a newer plan's) would make stale ops pass as fresh
  if (made.plan.snapshotDigest !== plan.snapshotDigest || made.plan.ownerId !== plan.ownerId)
    return `the plan's snapshot is not the one run ${plan.runId} planned on: the file was edited; make a new plan`;
  const recorded = new Map<string, number>();
  for (const text of made.plan.ops.map((op) => canonicalText(same(op)))) recorded.set(text, (recorded.get(text) ?? 0) + 1);
  for (const op of plan.ops) {
    const text = canonicalText(same(op));
    const left = recorded.get(text) ?? 0;
    if (left === 0) return `the plan's op to ${op.op} "${op.name}" (${op.key}) is not one run ${plan.runId} planned: the file was edited; make a new plan`;
    recorded.set(text, left - 1);
  }
  return undefined;
}

/** JSON with every object's keys in order: the same op, whatever order its file or record wrote them in */
function canonicalText(value: unknown): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sorted)
      : typeof v === 'object' && v !== null
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(sorted(value));
}
