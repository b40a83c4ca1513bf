import type { App } from '../main.js';
import type { Metrics } from '../metrics.js';
import type { RunOutcome } from '../reconcile/run.js';

/** the gauges and counters a finished run moves; those read from the store cover what the run did not plan */
export function recordRunMetrics(metrics: Metrics, app: App, o: RunOutcome, result: 'ok' | 'quarantined' | 'failed'): void {
  metrics.runs.inc({ result });
  for (const [op, n] of Object.entries(o.result?.doneByOp ?? {})) metrics.ops.inc({ op, result: 'done' }, n);
  for (const f of o.result?.failed ?? []) metrics.ops.inc({ op: f.op.op, result: 'failed' });
  const held = o.plan.blocked
    .filter((b) => b.kind === 'guard' && b.op.op === 'remove')
    .reduce((n, b) => n + (b.op.op === 'remove' ? b.op.members.length : 0), 0);
  // a later run that holds nothing does not release what an earlier one holds
  metrics.quarantined.set(o.plan.summary.quarantined || app.store.views.heldRunIds().length > 0 ? 1 : 0);
  if (o.drift) metrics.driftMembers.set(o.drift.added + o.drift.left);
  metrics.heldRemovals.set(held);
  // from the store: a run after a push plans only the conversations it touches
  metrics.unmanageable.set(app.store.countUnmanageable());
  metrics.storeBytes.set(app.store.retention.bytes());
  const refusedSince = new Date(Date.now() - app.config.identity.cacheTtlHours * 3_600_000).toISOString();
  metrics.refusedUsers.set(app.store.users.refusedUsers(refusedSince).size);
  if (result === 'failed') metrics.consecutiveFailures.inc();
  else {
    metrics.consecutiveFailures.set(0);
    metrics.lastSuccess.set(Date.now() / 1000);
  }
}
