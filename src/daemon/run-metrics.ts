import type { App } from '../main.js';
import type { Metrics } from '../metrics.js';
import type { Plan } from '../plan/types.js';
import type { RunOutcome } from '../reconcile/run.js';
import type { Store } from '../store/store.js';

/** member removals still held for approval, by any run (a scoped or partial run plans only some conversations) */
function heldRemovalsWaiting(store: Store): number {
  const still = store.guards.heldOps();
  const seen = new Set<string>();
  let n = 0;
  // newest first: a conversation held again by a later run counts once, as that run planned it
  for (const { plan } of store.views.heldRuns()) {
    for (const b of (plan as Plan).blocked) {
      if (b.kind !== 'guard' || b.op.op !== 'remove' || seen.has(b.op.key) || !still.has(`remove ${b.op.key}`)) continue;
      seen.add(b.op.key);
      n += b.op.members.length;
    }
  }
  return n;
}

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
  metrics.heldRemovals.set(Math.max(held, heldRemovalsWaiting(app.store)));
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
