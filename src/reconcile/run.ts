import type { Logger } from 'pino';
import type { Backend } from '../backends/types.js';
import type { Config } from '../config/schema.js';
import { AuthError, describeError } from '../errors.js';
import { resolveHandles } from '../identity/lookup.js';
import { createIdentityResolver, identityValue, type IdentityResolver } from '../identity/resolve.js';
import { mapGroups, matchGroup } from '../mapping/map.js';
import { computePlan, hasChanges, sourceOfGroup } from '../plan/compute.js';
import { snapshotDigest } from '../plan/digest.js';
import { distrustVanishedGroups, sizeOf, sourceShrink, type SourceSize } from '../plan/source-guard.js';
import type { DesiredConversation, Plan, PlanOp } from '../plan/types.js';
import type { DesiredGroup, Source } from '../sources/types.js';
import type { RunMode, Store } from '../store/store.js';
import { Reconciler, type ApplyResult } from './reconciler.js';

export const EXIT = { ok: 0, error: 1, changes: 2, quarantined: 3, config: 78 } as const;

export interface RunDeps {
  config: Config;
  store: Store;
  sources: Source[];
  backend: Backend;
  logger: Logger;
  tty?: NodeJS.WriteStream;
  signal?: AbortSignal;
}

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
  drift?: DriftSummary;
}

/**
 * One run: sources → mapping and identity → plan → (unless dry) reconcile. The one-shot CLI, the
 * CronJob and each daemon tick all come through here.
 */
export async function runOnce(deps: RunDeps, opts: RunOptions): Promise<RunOutcome> {
  const { config, store, logger } = deps;
  const runId = store.startRun(opts.mode);
  const signal = deps.signal ?? new AbortController().signal;
  try {
    const reconciler = reconcilerFor(deps, opts.mode !== 'sync');
    let recovered: RunOutcome['recovered'];
    const pending = store.pendingJournal().length;
    if (opts.mode === 'sync') recovered = await reconciler.recover();
    else if (pending > 0) logger.warn({ pending }, 'ops from an interrupted run are pending; the next real sync resolves them first');

    const self = await reconciler.whoami();
    let drift: DriftSummary | undefined;
    const every = config.drift.refreshEveryRuns;
    if (opts.mode === 'sync' && !opts.scope && (opts.refresh || (every > 0 && store.runsSinceRefresh() >= every))) {
      drift = await refreshDrift(store, reconciler, runId, logger);
    }
    const { plan, readErrors, groups, desired, goodSizes } = await planRun(deps, reconciler, self.userId, opts.allowRemovals ?? false, signal, opts.scope);

    let result: ApplyResult | undefined;
    if (opts.mode === 'sync') {
      result = await reconciler.apply(plan, runId);
      store.updateBindingGroups(desired);
      // only after a complete read: a group read short must not free its leavers
      if (!opts.scope && readErrors.length === 0) forgetResolvedDrift(store, desired);
      recordGoodReads(store, groups, goodSizes);
    }
    const exitCode = exitCodeOf(plan, result, readErrors, opts.detailedExitCode ?? false);
    store.finishRun(runId, resultLabel(exitCode, result), exitCode, { plan: plan.summary, result: result && summarizeResult(result), drift }, plan);
    return { runId, mode: opts.mode, plan, ...(result ? { result } : {}), readErrors, exitCode, ...(recovered ? { recovered } : {}), ...(drift ? { drift } : {}) };
  } catch (e) {
    store.finishRun(runId, 'error', EXIT.error, null, undefined, describeError(e));
    throw e;
  }
}

/** sources → desired conversations → plan, with nothing written to the backend */
export async function planRun(
  deps: RunDeps,
  reconciler: Reconciler,
  selfId: string,
  allowRemovals: boolean,
  signal: AbortSignal,
  scope?: ReadonlySet<string>,
): Promise<{ plan: Plan; readErrors: string[]; groups: DesiredGroup[]; desired: DesiredConversation[]; goodSizes: Map<string, SourceSize>; identity: IdentityResolver }> {
  const { config, store, backend, logger } = deps;
  const warnings: string[] = [];
  const readErrors: string[] = [];
  const incompleteSources: string[] = [];
  let groups: DesiredGroup[] = [];
  const scopedSources = scope && new Set([...scope].map(sourceOfGroup));
  const toRead = scopedSources ? deps.sources.filter((s) => scopedSources.has(s.id)) : deps.sources;
  if (scopedSources) incompleteSources.push(...deps.sources.filter((s) => !scopedSources.has(s.id)).map((s) => s.id));
  const results = await Promise.allSettled(toRead.map((s) => s.fetch(signal)));
  const tripped: string[] = [];
  const sizesBefore = store.sourceSizes();
  const goodSizes = new Map<string, SourceSize>();
  results.forEach((r, i) => {
    const source = toRead[i]!;
    if (r.status === 'rejected') {
      if (r.reason instanceof AuthError) throw r.reason;
      const msg = `source ${source.id} could not be read: ${describeError(r.reason)}`;
      logger.error({ source: source.id, err: describeError(r.reason) }, 'source failed; its groups are treated as unknown');
      readErrors.push(msg);
      warnings.push(msg);
      incompleteSources.push(source.id);
      return;
    }
    groups.push(...r.value.groups);
    warnings.push(...r.value.warnings);
    if (!r.value.listingComplete) {
      incompleteSources.push(source.id);
      readErrors.push(`source ${source.id}: the group listing was incomplete`);
      return;
    }
    const size = sizeOf(r.value.groups);
    const shrunk = sourceShrink(source.id, size, sizesBefore.get(source.id), config.guards.maxSourceShrink);
    if (shrunk && !allowRemovals) {
      // distrusted as a whole: its absent groups are not gone, and the run is quarantined
      tripped.push(shrunk);
      incompleteSources.push(source.id);
    } else if (r.value.groups.every((g) => g.complete)) goodSizes.set(source.id, size);
  });
  for (const g of groups) {
    if (g.complete) continue;
    const why = `${g.key}: ${g.unknownReason ?? 'membership unknown'}`;
    if (g.unknownIsReadError === false) warnings.push(`${why}; its removals are frozen`);
    else readErrors.push(why);
  }

  const distrusted = distrustVanishedGroups(groups, store.groupSizes(), allowRemovals);
  groups = distrusted.groups;
  warnings.push(...distrusted.warnings);

  const identity = await identityFor(deps, groups, reconciler);
  let snapshot = store.loadSnapshot();
  const mapped = mapGroups(groups, config.mappings, (u) => identity.resolve(u), backend.capabilities.removedGroup, snapshot.users);
  warnings.push(...mapped.warnings, ...identity.warnings());

  let desired = mapped.conversations;
  if (scope) {
    const touches = (gs: string[]) => gs.some((g) => scope.has(g));
    desired = desired.filter((d) => touches(d.groups));
    const keys = new Set(desired.map((d) => d.key));
    snapshot = { ...snapshot, conversations: snapshot.conversations.filter((c) => keys.has(c.key) || touches(c.groups)) };
  }
  const plan = computePlan({
    desired,
    snapshot,
    policy: config.policy,
    ownerId: config.ownerId,
    selfId,
    guards: config.guards,
    // the plan counts the daemon among the members; a backend where it is not one has one more seat
    ...(backend.capabilities.maxMembers !== undefined
      ? { maxMembers: backend.capabilities.maxMembers + (backend.capabilities.selfIsMember === false ? 1 : 0) }
      : {}),
    can: { archive: backend.archive !== undefined, delete: backend.delete !== undefined },
    incompleteSources,
    allowRemovals,
    tripped,
    warnings,
  });
  logger.info(
    { groups: groups.length, unmatched: mapped.unmatched, conversations: mapped.conversations.length, ...plan.summary },
    'plan computed',
  );
  return { plan, readErrors, groups, desired, goodSizes, identity };
}

/** `convsync apply plan.json`: a reviewed plan, applied as-is if the snapshot has not moved */
export async function applySavedPlan(deps: RunDeps, plan: Plan): Promise<RunOutcome> {
  const { store, config } = deps;
  const runId = store.startRun('apply');
  try {
    if (plan.ownerId !== config.ownerId) {
      throw new StalePlanError(`the plan was made for owner "${plan.ownerId}", this configuration is owner "${config.ownerId}"`);
    }
    const reconciler = reconcilerFor(deps, false);
    const recovered = await reconciler.recover();
    const digest = snapshotDigest(store.loadSnapshot());
    if (digest !== plan.snapshotDigest) {
      throw new StalePlanError(
        'the conversations changed since this plan was made (snapshot digest differs); make a new plan with `convsync plan --out FILE`',
      );
    }
    const result = await reconciler.apply(plan, runId);
    const exitCode = exitCodeOf(plan, result, [], false);
    store.finishRun(runId, resultLabel(exitCode, result), exitCode, { plan: plan.summary, result: summarizeResult(result) }, plan);
    return { runId, mode: 'apply', plan, result, readErrors: [], exitCode, recovered };
  } catch (e) {
    store.finishRun(runId, e instanceof StalePlanError ? 'refused' : 'error', EXIT.error, null, undefined, describeError(e));
    throw e;
  }
}

/**
 * `convsync approve RUN`: the removals and deletes that guards held back in RUN, and only those,
 * applied now — each checked against a fresh plan, so someone who is back in their group since
 * is not removed.
 */
export async function approveRun(deps: RunDeps, heldIn: number): Promise<RunOutcome & { released: number; stale: number }> {
  const { store } = deps;
  const saved = store.runPlan(heldIn) as Plan | undefined;
  if (!saved) throw new StalePlanError(`run ${heldIn} has no plan recorded (only sync, dry-run and plan runs do)`);
  const held = saved.blocked.filter((b) => b.kind === 'guard').map((b) => b.op);
  const runId = store.startRun('approve');
  try {
    const reconciler = reconcilerFor(deps, false);
    await reconciler.recover();
    const self = await reconciler.whoami();
    const { plan: fresh, groups, goodSizes } = await planRun(deps, reconciler, self.userId, true, deps.signal ?? new AbortController().signal);
    const ops: PlanOp[] = [];
    let wanted = 0;
    for (const h of held) {
      if (h.op === 'remove') {
        wanted += h.members.length;
        const now = fresh.ops.find((o): o is PlanOp & { op: 'remove' } => o.op === 'remove' && o.key === h.key && o.conversationId === h.conversationId);
        const still = h.members.filter((m) => now?.members.includes(m));
        if (still.length > 0) ops.push({ ...h, members: still, reason: `${h.reason}; approved from run ${heldIn}` });
      } else if (h.op === 'delete') {
        wanted++;
        if (fresh.ops.some((o) => o.op === 'delete' && o.key === h.key && o.conversationId === h.conversationId)) ops.push({ ...h, reason: `${h.reason}; approved from run ${heldIn}` });
      }
    }
    const released = ops.reduce((n, o) => n + (o.op === 'remove' ? o.members.length : 1), 0);
    const plan: Plan = { ...fresh, ops, blocked: [], summary: { ...fresh.summary, quarantined: false } };
    const result = await reconciler.apply(plan, runId);
    // what was approved is the new baseline of the guards
    recordGoodReads(store, groups, goodSizes);
    const exitCode = exitCodeOf(plan, result, [], false);
    store.finishRun(runId, resultLabel(exitCode, result), exitCode, { approved: heldIn, released, stale: wanted - released, result: summarizeResult(result) }, plan);
    return { runId, mode: 'approve', plan, result, readErrors: [], exitCode, released, stale: wanted - released };
  } catch (e) {
    store.finishRun(runId, 'error', EXIT.error, null, undefined, describeError(e));
    throw e;
  }
}

/** everything `convsync explain` traces, computed like a dry run (nothing written to the backend) */
export async function planForExplain(deps: RunDeps) {
  const reconciler = reconcilerFor(deps, true);
  const self = await reconciler.whoami();
  const out = await planRun(deps, reconciler, self.userId, false, deps.signal ?? new AbortController().signal);
  return { ...out, selfId: self.userId, snapshot: deps.store.loadSnapshot() };
}

export class StalePlanError extends Error {
  override name = 'StalePlanError';
}

/** the baselines of the source and empty-group guards: only reads that were complete */
function recordGoodReads(store: Store, groups: DesiredGroup[], sourceSizes: Map<string, SourceSize>): void {
  for (const [source, size] of sourceSizes) store.recordSourceSize(source, size);
  store.recordGroupSizes(groups.filter((g) => g.complete).map((g) => ({ key: g.key, displayName: g.displayName, size: g.members.length })));
}

async function refreshDrift(store: Store, reconciler: Reconciler, runId: number, logger: Logger): Promise<DriftSummary> {
  const { drift, unreadable } = await reconciler.refresh(store.loadSnapshot());
  store.applyDrift(runId, drift);
  const summary: DriftSummary = {
    added: drift.reduce((n, d) => n + d.added.length, 0),
    left: drift.reduce((n, d) => n + d.left.length, 0),
    renamed: drift.filter((d) => d.renamedTo !== undefined).length,
    deleted: drift.filter((d) => d.deleted !== undefined).length,
    unreadable,
  };
  for (const d of drift.filter((x) => x.deleted !== undefined)) logger.warn({ key: d.key, conversation: d.conversationId, why: d.deleted }, 'conversation gone: unbound');
  logger.info(summary, 'refreshed the owned conversations from the backend');
  return summary;
}

/** leavers no longer in their group may be added again when they rejoin; gone groups need no memory */
function forgetResolvedDrift(store: Store, desired: DesiredConversation[]): void {
  const byKey = new Map(desired.map((d) => [d.key, d]));
  const { leavers, gone } = store.driftMemory();
  for (const [key, { conversationId, users }] of leavers) {
    const wanted = byKey.get(key)?.members;
    const out = users.filter((u) => !wanted?.has(u));
    if (out.length > 0) store.forgetLeavers(conversationId, out);
  }
  const stale = gone.filter((k) => !byKey.has(k));
  if (stale.length > 0) store.forgetGone(stale);
}

/** identity by attribute, or by handle looked up on the backend (cached in the store) */
async function identityFor(deps: RunDeps, groups: DesiredGroup[], reconciler: Reconciler): Promise<IdentityResolver> {
  const { config, backend, store } = deps;
  const { from, lookup, cacheTtlHours } = config.identity;
  const knownUsers = backend.knownUsers?.bind(backend);
  if (lookup === 'none' && knownUsers && config.backend.type === 'mixin' && config.backend.verifyUsers) {
    // the backend drops unknown ids silently: check them (cached) and report them instead
    const ids = new Set<string>();
    for (const g of groups) {
      if (!matchGroup(g, config.mappings)) continue;
      for (const u of g.members) {
        const v = u.active ? identityValue(u, from) : undefined;
        const id = v === undefined ? undefined : backend.parseUserId(v);
        if (id) ids.add(id);
      }
    }
    const verified = await resolveHandles(
      ids,
      store,
      async (batch) => {
        const known = await reconciler.knownUsers(batch);
        return new Map(batch.map((id) => [id, known.has(id) ? id : null]));
      },
      cacheTtlHours,
      'known',
    );
    return createIdentityResolver(from, (v) => {
      const id = backend.parseUserId(v);
      return id && verified.get(id) ? id : undefined;
    }, `not a user ${backend.id} knows`);
  }
  if (lookup === 'none') return createIdentityResolver(from, (v) => backend.parseUserId(v));
  const handles = new Set<string>();
  // what a backend that creates missing users needs to know about them
  const details = new Map<string, { phone?: string; displayName?: string }>();
  for (const g of groups) {
    if (!matchGroup(g, config.mappings)) continue;
    for (const u of g.members) {
      const v = u.active ? identityValue(u, from) : undefined;
      if (v === undefined) continue;
      handles.add(v);
      const phone = config.identity.phoneFrom ? identityValue(u, config.identity.phoneFrom) : undefined;
      details.set(v.trim().toLowerCase(), { ...(phone ? { phone } : {}), ...(u.displayName ? { displayName: u.displayName } : {}) });
    }
  }
  const ids = await resolveHandles(handles, store, (h) => reconciler.lookupHandles(h, details), cacheTtlHours);
  return createIdentityResolver(from, (v) => ids.get(v.trim().toLowerCase()) ?? undefined, `no ${backend.id} user has this handle`);
}

function reconcilerFor(deps: RunDeps, dryRun: boolean): Reconciler {
  const r = deps.config.reconcile;
  return new Reconciler(deps.store, deps.backend, {
    dryRun,
    ownerId: deps.config.ownerId,
    concurrency: r.concurrency,
    ratePerSecond: r.ratePerSecond,
    burst: r.burst,
    retry: { maxAttempts: r.maxAttempts, baseDelayMs: r.baseDelayMs, maxDelayMs: r.maxDelayMs },
    logger: deps.logger,
    ...(deps.tty ? { tty: deps.tty } : {}),
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
}

/** any failure → 1; else guards held removals back → 3; else (with --detailed-exitcode) changes → 2 */
function exitCodeOf(plan: Plan, result: ApplyResult | undefined, readErrors: string[], detailed: boolean): number {
  if (readErrors.length > 0) return EXIT.error;
  if (result && (result.failed.some((f) => f.kind !== 'capacity') || result.circuitOpen || result.skipped > 0)) return EXIT.error;
  if (plan.summary.quarantined) return EXIT.quarantined;
  if (detailed && hasChanges(plan)) return EXIT.changes;
  return EXIT.ok;
}

function resultLabel(exitCode: number, result: ApplyResult | undefined): string {
  if (result?.circuitOpen) return 'circuit-open';
  if (result?.authFailed) return 'auth-failed';
  return { 0: 'ok', 1: 'failed', 2: 'changes', 3: 'quarantined' }[exitCode] ?? 'failed';
}

export function summarizeResult(r: ApplyResult) {
  return { done: r.done, failed: r.failed.length, skipped: r.skipped, circuitOpen: r.circuitOpen, dryRun: r.dryRun };
}
