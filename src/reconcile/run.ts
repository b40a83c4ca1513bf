import { describeError, StalePlanError } from '../errors.js';
import { snapshotDigest } from '../plan/digest.js';
import { editedOps, savedPlanRefusal } from '../plan/saved.js';
import type { DesiredConversation, Plan, PlanOp } from '../plan/types.js';
import { sourceOfGroup } from '../group-key.js';
import type { RunMode } from '../store/store.js';
import { reconcilerFor, type RunDeps } from './deps.js';
import { planRun, type PlannedRun } from './plan-run.js';
import { skipIfUnchanged } from './skip-unchanged.js';
import { canonicalIds, canonicalMembers, forgetResolvedDrift, pruneStore, recordGoodReads, refreshDrift, rememberHeld } from './bookkeeping.js';
import { saveParts } from './group-parts.js';
import { EXIT, exitCodeOf, mergeResults, resultLabel, summarizeResult } from './outcome.js';
import type { ApplyResult } from './reconciler.js';

export { EXIT, summarizeResult } from './outcome.js';

export interface RunOptions {
  /** sync applies; dry-run and plan only compute */
  mode: Exclude<RunMode, 'apply'>;
  allowRemovals?: boolean;
  detailedExitCode?: boolean;
  /**
   * Only the conversations fed by these group keys (a pushed change). Only their sources are
   * read; every other source counts as unread, so its groups are never taken as gone.
   */
  scope?: ReadonlySet<string>;
  /** re-read the owned conversations from the backend first (also every `drift.refreshEveryRuns` runs) */
  refresh?: boolean;
}

export interface DriftSummary {
  added: number;
  left: number;
  renamed: number;
  deleted: number;
  /** conversations that could not be read this time */
  unreadable: number;
}

export interface RunOutcome {
  runId: number;
  mode: RunMode;
  plan: Plan;
  result?: ApplyResult;
  /** what could not be read (a source, a listing page, a group's members): the run is degraded */
  readErrors: string[];
  exitCode: number;
  recovered?: { resolved: number; adopted: number };
  /** a plan of what changed: the groups it took, of all read, and how many of them changed */
  partial?: { groups: number; of: number; changed: number };
  drift?: DriftSummary;
}

/**
 * One run: sources → mapping and identity → plan → (unless dry) reconcile. The one-shot CLI, the
 * CronJob and each daemon tick all come through here.
 */
export async function runOnce(deps: RunDeps, opts: RunOptions): Promise<RunOutcome> {
  const { config, store, logger } = deps;
  const runId = store.runs.start(opts.mode, { scoped: opts.scope !== undefined });
  deps.onRunStart?.(runId);
  const signal = deps.signal ?? new AbortController().signal;
  try {
    const reconciler = reconcilerFor(deps, opts.mode !== 'sync');
    const unchanged = await skipIfUnchanged(deps, opts, runId, reconciler);
    if (unchanged.outcome) return unchanged.outcome;
    let recovered: RunOutcome['recovered'];
    const pending = store.journal.pendingRows().length;
    if (opts.mode === 'sync') recovered = await reconciler.recover();
    else if (pending > 0) logger.warn({ pending }, 'ops from an interrupted run are pending; the next real sync resolves them first');

    const self = await reconciler.whoami();
    await reconciler.preflight();
    canonicalIds(deps, logger); // every mode (all hold the writer lease): a dry run on ids of an earlier form would remove and add everyone
    let drift: DriftSummary | undefined;
    const every = config.drift.refreshEveryRuns;
    if (opts.mode === 'sync' && !opts.scope && (opts.refresh || (every > 0 && store.drift.runsSinceRefresh() >= every))) {
      drift = await refreshDrift(store, reconciler, runId, logger);
    }
    const allowRemovals = opts.allowRemovals ?? false;
    const planOpts = { partial: unchanged.partial, print: opts.mode === 'sync' && !opts.scope };
    let planned = await planRun(deps, reconciler, self.userId, allowRemovals, signal, opts.scope, planOpts);
    let result: ApplyResult | undefined;
    if (opts.mode === 'sync' && planned.plan.summary.contact > 0) {
      // users are made first, then planned again so they join their conversations in this run
      result = await reconciler.apply({ ...planned.plan, ops: planned.plan.ops.filter((o) => o.op === 'contact') }, runId);
      planned = await planRun(deps, reconciler, self.userId, allowRemovals, signal, opts.scope, { ...planOpts, newUsers: false });
    }
    const { plan, readErrors, groups, desired, goodSizes, prints, change, readVersions } = planned;
    // a plan of what changed (`change`) read every source in full and makes the ops a full plan would:
    // it is guarded, and keeps its books, like one, over the conversations it planned
    if (opts.mode === 'sync') {
      // the parts before the ops: a run that stops half-way never leaves conversations newer than them
      const unnumbered = keepParts(store, planned, opts);
      result = mergeResults(result, await reconciler.apply(plan, runId));
      // the books are kept only by the writer: a process paused past its lease keeps none
      store.journal.fence();
      for (const r of result.refused ?? [])
        plan.warnings.push(
          `${r.key}: user ${r.userId} refused by ${deps.backend.id} (${r.label ?? r.message}); the others were added, ${r.userId} is not offered again for ${config.identity.cacheTtlHours} h`,
        );
      store.updateBindingGroups(withUnknownGroups(() => planned.bindingGroups ?? store.bindingGroups.all(), desired, planned.incompleteSources));
      if (unnumbered.size > 0) keepParts(store, planned, opts, unnumbered);
      // only after a whole read: a group read short or distrusted must not free its leavers or the conversations deleted by hand
      if (opts.scope === undefined && planned.whole) forgetResolvedDrift(store, desired, change?.conversations);
      // a scoped run, over the conversations it planned whole: someone it finds out of their group may join it again
      else if (opts.scope !== undefined && planned.scoped) forgetResolvedDrift(store, desired, planned.scoped);
      // the guards' baselines move on a full read only (the groups a partial plan left out have not changed)
      if (opts.scope === undefined) recordGoodReads(store, groups, goodSizes);
      rememberHeld(store, runId, plan, { scoped: opts.scope !== undefined, allowRemovals, complete: planned.whole });
    }
    const exitCode = exitCodeOf(plan, result, readErrors, opts.detailedExitCode ?? false);
    store.runs.finish(runId, {
      result: resultLabel(exitCode, result),
      exitCode,
      // a plan of what changed (`change`) says nothing of the conversations it did not look at
      summary: { plan: plan.summary, result: result && summarizeResult(result), drift, ...(change && { partial: true }) },
      plan,
    });
    pruneStore(deps);
    unchanged.planned({ plan, result, readErrors, exitCode, prints, change, readVersions });
    return {
      runId,
      mode: opts.mode,
      plan,
      result,
      readErrors,
      exitCode,
      recovered,
      drift,
      partial: change && { groups: groups.length, of: prints?.size ?? 0, changed: change.changed },
    };
  } catch (e) {
    store.runs.finish(runId, { result: 'error', exitCode: EXIT.error, summary: null, error: describeError(e) });
    throw e;
  }
}

/** `convsync apply plan.json`: a reviewed plan, applied as-is if the snapshot has not moved */
export async function applySavedPlan(deps: RunDeps, plan: Plan): Promise<RunOutcome> {
  const { store, config } = deps;
  const runId = store.runs.start('apply');
  try {
    if (plan.ownerId !== config.ownerId) {
      throw new StalePlanError(`the plan was made for owner "${plan.ownerId}", this configuration is owner "${config.ownerId}"`);
    }
    const reconciler = reconcilerFor(deps, false);
    // the backend's id form needs its domain, known once it answered
    const self = (await reconciler.whoami()).userId;
    canonicalIds(deps, deps.logger);
    plan = { ...plan, ops: plan.ops.map((op) => canonicalMembers(op, deps.backend)) };
    refuseProtectedRemovals(plan, new Set([self, ...config.guards.protect.map((p) => deps.backend.parseUserId(p) ?? p)]));
    const recovered = await reconciler.recover();
    const snapshot = store.loadSnapshot();
    const digest = snapshotDigest(snapshot);
    if (digest !== plan.snapshotDigest) {
      throw new StalePlanError('the conversations changed since this plan was made (snapshot digest differs); make a new plan with `convsync plan --out FILE`');
    }
    const made = (run: number) => ({ mode: store.runs.mode(run), plan: store.runs.plan(run) as Plan | undefined });
    // what the configuration allows now first, then that the ops are those the plan's run made
    const refusal =
      savedPlanRefusal(plan, snapshot, { policy: config.policy, guards: config.guards, held: store.guards.heldOps() }) ??
      editedOps(plan, made, (op) => canonicalMembers(op, deps.backend));
    if (refusal !== undefined) throw new StalePlanError(refusal);
    // a contact is no conversation: the digest does not see it made (by this plan applied before, or a sync since)
    const contacts = plan.ops.flatMap((op) => (op.op === 'contact' ? [op.handle] : []));
    if (contacts.length > 0) {
      const found = await reconciler.lookupHandles(contacts);
      const made = contacts.find((h) => (found.get(h) ?? null) !== null);
      if (made !== undefined)
        throw new StalePlanError(
          `the plan makes the contact "${made}", which ${deps.backend.id} has now (the plan was applied already, or a sync made it); make a new plan`,
        );
    }
    const result = await reconciler.apply(plan, runId);
    const exitCode = exitCodeOf(plan, result, [], false);
    store.runs.finish(runId, { result: resultLabel(exitCode, result), exitCode, summary: { plan: plan.summary, result: summarizeResult(result) }, plan });
    return { runId, mode: 'apply', plan, result, readErrors: [], exitCode, recovered };
  } catch (e) {
    store.runs.finish(runId, { result: e instanceof StalePlanError ? 'refused' : 'error', exitCode: EXIT.error, summary: null, error: describeError(e) });
    throw e;
  }
}

/** a saved plan (made before guards.protect changed, or edited by hand) never removes whom this configuration never removes */
function refuseProtectedRemovals(plan: Plan, never: ReadonlySet<string>): void {
  for (const op of plan.ops) {
    const member = op.op === 'remove' ? op.members.find((m) => never.has(m)) : undefined;
    if (member !== undefined)
      throw new StalePlanError(
        `the plan removes ${member} from "${op.name}", whom this configuration never removes (the daemon's own user or guards.protect); make a new plan`,
      );
  }
}

/**
 * `convsync approve RUN`: the removals, deletes, archives and unbinds that guards held back in
 * RUN, and only those, applied now — each checked against a fresh plan, so someone who is back in
 * their group since is not removed. The guards' baselines do not move: approving one run's ops
 * says nothing about what the sources read now.
 */
export async function approveRun(deps: RunDeps, heldIn: number): Promise<RunOutcome & { released: number; stale: number }> {
  const { store } = deps;
  const saved = store.runs.plan(heldIn) as Plan | undefined;
  if (!saved) {
    throw new StalePlanError(
      store.runs.exists(heldIn)
        ? `run ${heldIn} has no plan recorded: it held nothing back, or its plan was pruned (retention.plans); see convsync status`
        : `run ${heldIn} has no plan recorded: there is no such run, or it was pruned (retention.runs); see convsync status`,
    );
  }
  // approved again, a run would release what a later one held back and nobody approved
  const refused = store.views.notApprovable(heldIn);
  if (refused !== undefined) throw new StalePlanError(refused);
  const held = saved.blocked.filter((b) => b.kind === 'guard').map((b) => b.op);
  const runId = store.runs.start('approve');
  deps.onRunStart?.(runId);
  try {
    const reconciler = reconcilerFor(deps, false);
    await reconciler.recover();
    const self = await reconciler.whoami();
    canonicalIds(deps, deps.logger);
    const { plan: fresh } = await planRun(deps, reconciler, self.userId, true, deps.signal ?? new AbortController().signal);
    const ops: PlanOp[] = [];
    let wanted = 0;
    // the key the store binds a held op's conversation to now: the fresh plan's, unless its rebind to that key is not applied yet
    const keyNow = (h: { key: string; conversationId: string }, now: { key: string }) =>
      store.bindingOf(h.key)?.conversationId === h.conversationId ? h.key : now.key;
    // in the backend's one form (known since whoami): a run held back before an upgrade names ids as that version wrote them
    for (const h of held.map((op) => canonicalMembers(op, deps.backend))) {
      if (h.op === 'remove') {
        wanted += h.members.length;
        // the same conversation, under the key it is bound to now (bound again under a new one since)
        const now = fresh.ops.find((o): o is PlanOp & { op: 'remove' } => o.op === 'remove' && o.conversationId === h.conversationId);
        const still = h.members.filter((m) => now?.members.includes(m));
        if (still.length > 0) ops.push({ ...h, key: keyNow(h, now!), members: still, reason: `${h.reason}; approved from run ${heldIn}` });
      } else if (h.op === 'delete' || h.op === 'archive' || h.op === 'unbind') {
        wanted++;
        const now = fresh.ops.find((o) => o.op === h.op && o.conversationId === h.conversationId);
        if (now) ops.push({ ...h, key: keyNow(h, now), reason: `${h.reason}; approved from run ${heldIn}` });
      }
    }
    const released = ops.reduce((n, o) => n + (o.op === 'remove' ? o.members.length : 1), 0);
    const plan: Plan = { ...fresh, ops, blocked: [], summary: { ...fresh.summary, quarantined: false } };
    const result = await reconciler.apply(plan, runId);
    store.guards.releaseApproved(heldIn, [...held, ...ops]);
    const exitCode = exitCodeOf(plan, result, [], false);
    store.runs.finish(runId, {
      result: resultLabel(exitCode, result),
      exitCode,
      summary: { approved: heldIn, released, stale: wanted - released, result: summarizeResult(result) },
      plan,
    });
    store.runs.approved(heldIn, runId);
    return { runId, mode: 'approve', plan, result, readErrors: [], exitCode, released, stale: wanted - released };
  } catch (e) {
    store.runs.finish(runId, { result: 'error', exitCode: EXIT.error, summary: null, error: describeError(e) });
    throw e;
  }
}

/**
 * Stores the parts a sync's plan found (not a scoped run's, which read some groups only); a full
 * plan of a whole read forgets the others. Returns the groups whose parts have ids the store had no
 * number for yet: `only` those are stored again after the ops numbered them.
 */
function keepParts(store: RunDeps['store'], planned: PlannedRun, opts: RunOptions, only?: ReadonlySet<string>): Set<string> {
  if (!planned.parts || opts.scope !== undefined) return new Set();
  const { rule, found, users } = planned.parts;
  const full = !planned.change && planned.readErrors.length === 0;
  return saveParts(store, rule, found, users, { full, ...(only && { only }) });
}

/**
 * The groups each conversation is fed by, as a run that did not read a source (a scoped run), or
 * read it short, can tell: that source's groups it was fed by stay in its list, unknown, not gone.
 */
function withUnknownGroups(
  known: () => readonly { key: string; groups: readonly string[] }[],
  desired: DesiredConversation[],
  incomplete: readonly string[],
): DesiredConversation[] {
  if (incomplete.length === 0) return desired;
  const before = new Map(known().map((c) => [c.key, c.groups]));
  return desired.map((d) => {
    const kept = (before.get(d.key) ?? []).filter((g) => incomplete.includes(sourceOfGroup(g)) && !d.groups.includes(g));
    return kept.length === 0 ? d : { ...d, groups: [...d.groups, ...kept].sort() };
  });
}

export { StalePlanError };
export { reconcilerFor, type RunDeps } from './deps.js';
export { planForExplain, planRun } from './plan-run.js';
