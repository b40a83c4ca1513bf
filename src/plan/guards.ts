import type { PlanBuilder, RemovalCandidate } from './builder.js';
import type { OpType, PlanInput, PlanOp } from './types.js';

/** how an op held only because an earlier run held it back is told (that run's approval releases it) */
export const HELD_SINCE = 'held back by guards since run';

/** ops a tripped guard holds back until approved, beside removals */
const HELD_BY_GUARD: ReadonlySet<OpType> = new Set(['delete', 'archive', 'unbind']);

/**
 * The guard stage: if a guard trips (and removals are not approved for this run), every removal,
 * delete, archive and unbind is held back; otherwise removals go, except what an earlier run held
 * back and nobody approved yet. Returns why the guards tripped.
 */
export function applyGuards(b: PlanBuilder): string[] {
  const { input } = b;
  const quarantine = [...(input.tripped ?? []), ...evaluateGuards(input, b.removals, b.ops)];
  if (quarantine.length > 0 && !input.allowRemovals) {
    const why = `held back by guards: ${quarantine.join('; ')}`;
    b.warnings.push(`guards tripped: ${quarantine.join('; ')}`);
    holdBack(b, () => why);
    return quarantine;
  }
  if (quarantine.length > 0) b.warnings.push(`guards tripped but removals approved for this run: ${quarantine.join('; ')}`);
  // what an earlier run held back stays held until approved, whichever run meets it next
  // a conversation this plan binds again under a new key keeps what was held under its old one
  const movedFrom = reboundFrom(b.ops);
  const heldIn = (op: PlanOp) => {
    if (input.allowRemovals) return undefined;
    const from = movedFrom.get(op.key);
    return input.held?.get(`${op.op} ${op.key}`) ?? (from === undefined ? undefined : input.held?.get(`${op.op} ${from}`));
  };
  holdBack(b, (op) => {
    const run = heldIn(op);
    return run === undefined ? undefined : `${HELD_SINCE} ${run}: approve it (convsync approve ${run}) or sync --allow-removals`;
  });
  return quarantine;
}

/** removals and planned deletes, archives and unbinds: held when `why` says so, planned otherwise */
function holdBack(b: PlanBuilder, why: (op: PlanOp) => string | undefined): void {
  for (const r of b.removals) {
    const held = why(r.op);
    if (held === undefined) b.ops.push(r.op);
    else b.block('guard', held, r.op);
  }
  for (let i = b.ops.length - 1; i >= 0; i--) {
    const op = b.ops[i]!;
    const held = HELD_BY_GUARD.has(op.op) ? why(op) : undefined;
    if (held === undefined) continue;
    b.ops.splice(i, 1);
    b.block('guard', held, op);
  }
}

/**
 * The per-run limits. A scoped run (a push, a SAML login) adds what the scoped runs of the window
 * already did, so a change that drips in one push at a time trips the same guard as one big run.
 */
export function evaluateGuards(input: Pick<PlanInput, 'guards' | 'window'>, removals: RemovalCandidate[], ops: PlanOp[]): string[] {
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
      reasons.push(
        `${r.op.key} would lose ${r.op.members.length + earlier} of ${size} members${also} (${pct(ratio)} > maxRemovalRatio ${pct(guards.maxRemovalRatio)})`,
      );
    }
  }
  const deletes = ops.filter((o) => o.op === 'delete' || o.op === 'archive').length;
  over(deletes, w?.deletes ?? 0, guards.maxDeletesPerRun, 'deletes or archives', 'maxDeletesPerRun');
  const unbinds = ops.filter((o) => o.op === 'unbind').length;
  over(unbinds, w?.unbinds ?? 0, guards.maxUnbindsPerRun, 'conversations let go (unbind)', 'maxUnbindsPerRun');
  return reasons;
}

function pct(x: number): string {
  return `${Math.round(x * 1000) / 10}%`;
}

/** the conversations a plan binds again under a new key: new key → the key it had */
export function reboundFrom(ops: readonly PlanOp[]): Map<string, string> {
  return new Map(ops.flatMap((o) => (o.op === 'rebind' && o.fromKey !== undefined ? [[o.key, o.fromKey] as const] : [])));
}
