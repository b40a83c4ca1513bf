import type { Plan } from '../plan/types.js';
import type { Store } from '../store/store.js';

/** `convsync status`: the last runs, ops still pending, and the latest failures with the backend's label. */
export function renderStatus(store: Store, format: 'text' | 'json', opts: { refusedTtlHours: number }): string {
  const runs = store.runs.recent(10);
  const pending = store.journal.pendingRows();
  const failures = store.journal.recentFailures(20);
  const drift = store.drift.recent(20);
  const refused = [...store.users.refusedUsers(new Date(Date.now() - opts.refusedTtlHours * 3_600_000).toISOString())].map(([userId, r]) => ({ userId, ...r }));
  const snapshot = store.loadSnapshot();
  const bound = snapshot.conversations.length;
  const members = snapshot.conversations.reduce((n, c) => n + c.members.size, 0);
  const unmanageable = snapshot.conversations
    .filter((c) => c.unmanageable)
    .map((c) => ({ key: c.key, conversationId: c.conversationId, name: c.name, why: c.unmanageable! }));
  if (format === 'json') {
    return `${JSON.stringify({ conversations: bound, members, runs, pending, failures, drift, refused, unmanageable }, null, 2)}\n`;
  }
  const lines = [`${bound} conversation(s) bound, ${members} member(s) known`, '', 'Last runs:'];
  if (runs.length === 0) lines.push('  none yet');
  for (const r of runs) {
    const s = r.summary as { plan?: { create: number; add: number; remove: number; rename: number; blocked: number } } | null;
    const plan = s?.plan ? ` create ${s.plan.create}, add ${s.plan.add}, remove ${s.plan.remove}, rename ${s.plan.rename}, held back ${s.plan.blocked}` : '';
    lines.push(
      `  #${r.id} ${r.mode.padEnd(7)} ${r.startedAt}  ${r.result ?? 'running or interrupted'} (exit ${r.exitCode ?? '-'})${plan}${r.error ? ` — ${r.error}` : ''}`,
    );
  }
  // what waits for approval: dry runs hold nothing back, and an approved or superseded run no longer does
  for (const { run, plan } of store.views.heldRuns()) {
    const { blocked, warnings } = plan as Plan;
    const held = blocked.filter((b) => b.kind === 'guard');
    const members = held.reduce((n, b) => n + (b.op.op === 'remove' ? b.op.members.length : 1), 0);
    lines.push(
      '',
      `Held back in run #${run.id}: ${members} removal(s)/delete(s) in ${held.length} conversation(s) — ${held[0]?.why ?? warnings.find((w) => w.startsWith('guards tripped')) ?? ''}`,
    );
    lines.push(`  release them with: convsync approve ${run.id}`);
  }
  lines.push('', `Pending ops: ${pending.length}${pending.length > 0 ? ' (resolved at the start of the next sync)' : ''}`);
  if (failures.length > 0) {
    lines.push('', 'Recent failures:');
    for (const f of failures) {
      lines.push(`  run #${f.runId} ${f.op.op} ${f.op.key}: ${f.errorKind}${f.errorLabel ? ` [${f.errorLabel}]` : ''} ${f.errorMessage ?? ''}`);
    }
  }
  if (unmanageable.length > 0) {
    lines.push('', `Conversations convsync cannot keep in line (${unmanageable.length}):`);
    for (const u of unmanageable) lines.push(`  ${u.key} "${u.name}" (${u.conversationId}): ${u.why}`);
  }
  if (refused.length > 0) {
    lines.push('', `Users the backend refused (not offered again for identity.cacheTtlHours, ${opts.refusedTtlHours} h):`);
    for (const r of refused) lines.push(`  ${r.userId} ${r.refusedAt}${r.label ? ` [${r.label}]` : ''} ${r.message}`);
  }
  if (drift.length > 0) {
    lines.push('', 'Recent drift (found by refreshes):');
    for (const d of drift) lines.push(`  run #${d.runId} ${d.kind.padEnd(7)} ${d.key}${d.userId ? ` ${d.userId}` : ''}${d.detail ? ` — ${d.detail}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
