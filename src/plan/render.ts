import type { BlockedOp, Plan, PlanOp } from './types.js';

const SIGN: Record<PlanOp['op'], string> = {
  contact: '+',
  create: '+',
  rebind: '~',
  add: '+',
  rename: '~',
  remove: '-',
  unbind: '·',
  archive: '-',
  delete: '-',
};

function target(op: PlanOp): string {
  if (op.op === 'contact') return `contact "${op.handle}"`;
  return op.op === 'create' ? `"${op.name}"` : `"${op.name}" (${op.conversationId})`;
}

function detail(op: PlanOp): string {
  switch (op.op) {
    case 'contact':
      return 'made on the backend before it can be a member';
    case 'rebind':
      return 'the conversation it had before, bound again';
    case 'create':
    case 'add':
    case 'remove':
      return `${op.members.length} member${op.members.length === 1 ? '' : 's'}`;
    case 'rename':
      return `"${op.from}" → "${op.to}"`;
    case 'unbind':
      return 'kept on the backend, no longer managed';
    case 'archive':
      return 'archived on the backend, no longer managed';
    case 'delete':
      return 'deleted on the backend';
  }
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]!.length))) ?? [];
  return rows.map(
    (r) =>
      '  ' +
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
  );
}

/** The plan as a person reads it: one line per op, then what is held back and why, then warnings. */
export function renderPlan(plan: Plan, readErrors = 0): string {
  const lines: string[] = [];
  const s = plan.summary;
  // no digest: a plan of what changed, or a run that found nothing changed since a plan that had none
  const snapshot = plan.snapshotDigest === '' ? '' : `, snapshot ${plan.snapshotDigest.slice(0, 19)}…`;
  lines.push(`Plan (owner ${plan.ownerId}, policy ${plan.policy}${snapshot})`);
  // "match" only when nothing is held back and every source was read
  const unread = readErrors > 0;
  if (plan.ops.length === 0)
    lines.push(
      plan.blocked.length > 0
        ? '  nothing to apply now: every change is held back (below)'
        : unread
          ? '  nothing to apply: what could not be read is kept as it is (warnings below)'
          : '  no changes: the conversations match the directory',
    );
  else lines.push(...table(plan.ops.map((op) => [SIGN[op.op], op.op, target(op), detail(op), `why: ${op.reason}`])));
  if (plan.blocked.length > 0) {
    lines.push('', `Held back (${plan.blocked.length}):`);
    lines.push(...table(plan.blocked.map((b: BlockedOp) => ['!', b.kind, `${b.op.op} ${target(b.op)}`, detail(b.op), b.why])));
  }
  if (plan.warnings.length > 0) {
    lines.push('', `Warnings (${plan.warnings.length}):`);
    for (const w of plan.warnings) lines.push(`  - ${w}`);
  }
  lines.push(
    '',
    `Summary: ${s.create} to create, ${s.rebind ? `${s.rebind} to bind again, ` : ''}${s.contact ? `${s.contact} contact(s) to make, ` : ''}${s.add} add (${s.membersAdded} members in all), ${s.remove} remove (${s.membersRemoved} members), ` +
      `${s.rename} rename, ${s.unbind} unbind, ${s.archive} archive, ${s.delete} delete; ${s.blocked} held back` +
      (s.quarantined ? ' — QUARANTINED: removals wait for approval (`convsync approve <run>` or `convsync sync --allow-removals`)' : ''),
  );
  return lines.join('\n');
}
