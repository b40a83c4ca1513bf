import type { Logger } from 'pino';
import type { Backend } from '../backends/types.js';
import { durationMs } from '../config/schema.js';
import { describeError } from '../errors.js';
import type { computePlan } from '../plan/compute.js';
import { HELD_SINCE, reboundFrom } from '../plan/guards.js';
import { memberCount, type SourceSize } from '../plan/source-guard.js';
import type { DesiredConversation, Plan, PlanOp } from '../plan/types.js';
import type { DesiredGroup } from '../sources/types.js';
import type { Store } from '../store/store.js';
import type { Reconciler } from './reconciler.js';
import type { DriftSummary, RunDeps } from './run.js';

// what a run leaves for the next ones: the guards' baselines and held ops, drift, the id form

/** the baselines of the source and empty-group guards: only reads that were complete */
export function recordGoodReads(store: Store, groups: DesiredGroup[], sourceSizes: Map<string, SourceSize>): void {
  for (const [source, size] of sourceSizes) store.guards.recordSourceSize(source, size);
  store.guards.recordGroupSizes(groups.filter((g) => g.complete).map((g) => ({ key: g.key, displayName: g.displayName, size: memberCount(g) })));
}

export async function refreshDrift(store: Store, reconciler: Reconciler, runId: number, logger: Logger): Promise<DriftSummary> {
  const { drift, unreadable } = await reconciler.refresh(store.loadSnapshot());
  store.drift.apply(runId, drift);
  const summary: DriftSummary = {
    added: drift.reduce((n, d) => n + d.added.length, 0),
    left: drift.reduce((n, d) => n + d.left.length, 0),
    renamed: drift.filter((d) => d.renamedTo !== undefined).length,
    deleted: drift.filter((d) => d.deleted !== undefined).length,
    unreadable,
  };
  for (const d of drift.filter((x) => x.deleted !== undefined))
    logger.warn({ key: d.key, conversation: d.conversationId, why: d.deleted }, 'conversation gone: unbound');
  logger.info(summary, 'refreshed the owned conversations from the backend');
  return summary;
}

/**
 * Leavers no longer in their group may be added again when they rejoin; gone groups need no memory
 * (`planned`: of these conversations only). A conversation fed by a group whose members are unknown
 * or distrusted (read empty) keeps its leavers: that read says nothing of who left the group.
 */
export function forgetResolvedDrift(store: Store, desired: DesiredConversation[], planned?: ReadonlySet<string>): void {
  const byKey = new Map(desired.map((d) => [d.key, d]));
  const { leavers, gone } = store.drift.memory();
  for (const [key, { conversationId, users }] of leavers) {
    if (planned && !planned.has(key)) continue;
    const d = byKey.get(key);
    if (d && (!d.complete || d.suspect)) continue;
    const wanted = d?.members;
    const out = users.filter((u) => !wanted?.has(u));
    if (out.length > 0) store.drift.forgetLeavers(conversationId, out);
  }
  const stale = gone.filter((k) => !byKey.has(k) && (!planned || planned.has(k)));
  if (stale.length > 0) store.drift.forgetGone(stale);
}

/** a saved plan's member ids in the backend's one form (a plan may be edited by hand before it is applied) */
export function canonicalMembers(op: PlanOp, backend: Backend): PlanOp {
  return 'members' in op ? { ...op, members: op.members.map((m) => backend.parseUserId(m) ?? m) } : op;
}

/**
 * A run's held-back ops are remembered, so the next run (a push or the schedule) holds them
 * too until they are approved; `--allow-removals` approves them all; a full read of every source,
 * trusted, forgets those no plan wants any more. A removal frozen (its group's members unknown) or
 * not possible now is still wanted: its hold stays.
 */
export function rememberHeld(store: Store, runId: number, plan: Plan, run: { scoped: boolean; allowRemovals: boolean; complete: boolean }): void {
  const guarded = plan.blocked.filter((b) => b.kind === 'guard');
  const wanted = plan.blocked.filter((b) => b.kind === 'guard' || b.kind === 'frozen' || b.kind === 'unmanageable').map((b) => b.op);
  // what this run holds only because an earlier one did is that run's to approve, not this one's
  const ownHolds = guarded.filter((b) => !b.why.startsWith(HELD_SINCE)).map((b) => b.op);
  if (run.scoped) store.guards.recordHeld(runId, ownHolds);
  else if (run.allowRemovals) store.guards.releaseHeld({ all: true });
  else {
    // a conversation bound again under a new key: its holds are under the old one until that rebind is applied
    const movedFrom = reboundFrom(plan.ops);
    const keep = wanted.flatMap((o) => [`${o.op} ${o.key}`, ...(movedFrom.has(o.key) ? [`${o.op} ${movedFrom.get(o.key)}`] : [])]);
    if (run.complete) store.guards.releaseHeld({ keep: new Set(keep) });
    // a full run's holds too: a run after a push, which plans some conversations only, would not trip on them
    store.guards.recordHeld(runId, ownHolds, { full: true });
  }
}

/** ids stored by an earlier version in another form (`uuid@own-domain`) are rewritten once the backend says its form */
export function canonicalIds(deps: RunDeps, logger: Logger): void {
  const { backend, store } = deps;
  const changed = store.users.canonicalizeUserIds(backend.idForm?.() ?? backend.id, (id) => backend.parseUserId(id) ?? id);
  if (changed > 0) logger.warn({ changed }, "user ids in the store rewritten into the backend's one form");
}

/** users the backend refused within the identity cache's lifetime, with why */
export function refusedLately(store: Store, ttlHours: number): Map<string, string> {
  const since = new Date(Date.now() - ttlHours * 3_600_000).toISOString();
  return new Map([...store.users.refusedUsers(since)].map(([id, r]) => [id, r.label ?? r.message]));
}

/** what runs scoped to a push or a login already did within the guard window */
export function guardWindow(store: Store, span: string): NonNullable<Parameters<typeof computePlan>[0]['window']> {
  return { ...store.guards.scopedChangesSince(new Date(Date.now() - durationMs(span)).toISOString()), span };
}

/** after a run: the store pruned to `retention` (a failure is logged; the run's outcome stands) */
export function pruneStore(deps: RunDeps): void {
  const { config, store, logger } = deps;
  try {
    const r = config.retention;
    const report = store.retention.prune({
      runsMaxAgeMs: durationMs(r.runs.maxAge),
      runsMaxCount: r.runs.maxCount,
      plansMaxCount: r.plans,
      identityTtlMs: config.identity.cacheTtlHours * 3_600_000,
      // a login is kept while its memberships last: forgetting it sooner would remove its user early
      // (at most back to 1970: a TTL meant as "never" must not make the cut an invalid date)
      samlLoginsMaxAgeMs: Math.min(
        Date.now(),
        Math.max(durationMs(r.samlLogins), ...config.sources.map((s) => (s.type === 'saml' ? s.membershipTtlHours * 3_600_000 : 0))),
      ),
      guardWindowMs: durationMs(config.guards.window),
    });
    if (report.runs + report.plans + report.identity + report.samlLogins > 0) logger.debug({ pruned: report }, 'store pruned');
  } catch (e) {
    logger.warn({ err: describeError(e) }, 'could not prune the store; it is tried again after the next run');
  }
}
