import { createHash } from 'node:crypto';
import { durationMs, type Config, type SourceConfig } from '../config/schema.js';
import { describeError, AuthError } from '../errors.js';
import { summarize } from '../plan/compute.js';
import type { Plan } from '../plan/types.js';
import type { Source } from '../sources/types.js';
import { VERSION } from '../version.js';
import type { PlanStamp } from '../store/source-reads.js';
import type { ApplyResult, Reconciler } from './reconciler.js';
import type { ChangeScope } from './changed-groups.js';
import type { RunDeps, RunOptions, RunOutcome } from './run.js';

/**
 * A run whose inputs are all as the last complete plan found them reads and plans nothing: every
 * source says it is unchanged (a file's fingerprint, a SCIM listing of what was modified since,
 * no write to the tables a push or a SAML login fills, no SAML membership expired since), the
 * configuration and convsync are the same, and no run changed a conversation, refreshed drift,
 * held an op back or failed since. A full plan still runs every `reconcile.fullPlanEvery`, on
 * `--refresh`, `--allow-removals` and every drift refresh, and any doubt is a change: skipping can
 * only delay what a plan would do, never do something else. The backend is still asked who
 * convsync is: credentials that stopped working fail the run as they would have.
 */
export interface UnchangedCheck {
  /** the run need not read or plan: what it returns */
  outcome?: RunOutcome;
  /** only sources changed: the run may plan just the groups that differ from the last complete plan's prints */
  partial: boolean;
  /** at the end of a run that planned: what it planned from, when it left nothing undone */
  planned(run: PlannedOutcome): void;
}

export interface PlannedOutcome {
  plan: Plan;
  result: ApplyResult | undefined;
  readErrors: string[];
  exitCode: number;
  /** every group read, printed */
  prints?: Map<string, string>;
  /** a partial plan's scope */
  change?: ChangeScope;
  /** the versions the sources' reads left, for those that tell */
  readVersions?: ReadonlyMap<string, number | null>;
}

/** the types whose sources are filled through the store: their version is kept by its triggers */
const FED_BY_STORE = new Set<SourceConfig['type']>(['scim-push', 'saml']);

export async function skipIfUnchanged(deps: RunDeps, opts: RunOptions, runId: number, reconciler: Reconciler): Promise<UnchangedCheck> {
  const { store, config, logger } = deps;
  // store-fed sources can change while the run reads them: their versions are taken before
  const before = store.reads.versions();
  // the stamp's time is the run's start: a SAML membership that expires while the run reads and
  // applies is then found expired since the stamp by the next run
  const startedAt = new Date().toISOString();
  const complete = opts.mode === 'sync' && !opts.scope;
  const stamp = complete ? store.reads.planStamp() : undefined;
  // a run whose sources were read for what changed: a full plan of that read is no whole read, and puts no full plan off
  let readWhatChanged = false;
  const planned: UnchangedCheck['planned'] = (run) => {
    // a dry run or a scoped run changes nothing a stamp names (a scoped run's ops are journaled)
    if (!complete) return;
    if (!leftNothingUndone(run)) {
      store.reads.savePlanStamp(undefined);
      return;
    }
    const after = store.reads.versions();
    const sources = Object.fromEntries(config.sources.map((s) => [s.name, stampedVersion(s, before, after, run.readVersions)]));
    // the plan's digest names the snapshot the run left only when it changed nothing and saw all of it;
    // computing it again after changes costs a snapshot load (a third of a plan), for a field of a plan that is empty
    const digest = run.plan.ops.length === 0 && !run.change ? run.plan.snapshotDigest : '';
    const at = startedAt;
    // prints first: a stamp names only prints of a plan that was applied in full
    savePrints(store, run);
    // a partial plan, or a full one of sources read for what changed, does not put the next full one off
    const fullAt = run.change || readWhatChanged ? (stamp?.fullAt ?? stamp?.at ?? at) : at;
    store.reads.savePlanStamp({ runId, at, fullAt, config: configDigest(config), ...marks(deps), sources, snapshotDigest: digest });
  };
  if (!complete || opts.allowRemovals || opts.refresh) return { planned, partial: false };
  const demand = stamp === undefined ? 'no complete plan yet' : whyPlan(deps, stamp, runId);
  const changed = demand === undefined ? await changedSource(deps, stamp!) : undefined;
  if (demand !== undefined || changed !== undefined) {
    logger.debug({ why: demand ?? changed }, 'planning');
    readWhatChanged = demand === undefined;
    return { planned, partial: readWhatChanged };
  }
  await reconciler.whoami();
  await reconciler.preflight();
  logger.info({ since: stamp!.runId }, 'nothing changed since the last complete plan: no source read, no plan');
  return { outcome: unchangedOutcome(deps, runId, stamp!), planned, partial: false };
}

/**
 * The version a stamp names for a source: a store-fed one's from before the run (a push during it
 * is news for the next); another's as the run left it, unless its read left another version, which
 * means another process stored a read of the source meanwhile, or the read was not stored: the run
 * did not plan from what the store holds, and -1 makes the next run plan.
 */
function stampedVersion(
  s: SourceConfig,
  before: Map<string, number>,
  after: Map<string, number>,
  read: ReadonlyMap<string, number | null> | undefined,
): number {
  if (FED_BY_STORE.has(s.type)) return before.get(s.name) ?? 0;
  const now = after.get(s.name) ?? 0;
  const left = read?.get(s.name);
  return left === undefined || left === now ? now : -1;
}

/** a run that another plan from the same inputs would find as it is: nothing failed, held back or unread */
function leftNothingUndone({ plan, result, readErrors, exitCode }: PlannedOutcome): boolean {
  if (exitCode !== 0 && exitCode !== 2) return false;
  if (readErrors.length > 0 || plan.summary.quarantined || plan.blocked.some((b) => b.kind === 'guard' || b.kind === 'pending')) return false;
  return (
    result !== undefined &&
    result.failed.length === 0 &&
    result.skipped === 0 &&
    !result.circuitOpen &&
    result.authFailed === undefined &&
    (result.refused ?? []).length === 0
  );
}

/** a full plan's prints replace all; a partial one's those of the groups it planned */
function savePrints(store: RunDeps['store'], { prints, change }: PlannedOutcome): void {
  if (!prints) store.prints.clear();
  else if (!change) store.prints.save(prints, { replace: true });
  else store.prints.save(new Map([...change.keys].flatMap((k) => (prints.has(k) ? [[k, prints.get(k)!] as const] : []))), { replace: false });
}

function marks(deps: RunDeps): { journalMax: number; refreshRun: number } {
  const { journalMax, refreshRun } = deps.store.reads.storeMarks();
  return { journalMax, refreshRun };
}

/** why the store or the configuration asks for a plan, if they do */
function whyPlan(deps: RunDeps, stamp: PlanStamp, runId: number): string | undefined {
  const { store, config } = deps;
  const every = durationMs(config.reconcile.fullPlanEvery);
  if (every === 0 || !(Date.now() - Date.parse(stamp.fullAt ?? stamp.at) < every))
    return `a full plan is due (reconcile.fullPlanEvery ${config.reconcile.fullPlanEvery})`;
  if (stamp.config !== configDigest(config)) return 'the configuration or convsync changed';
  const now = store.reads.storeMarks();
  if (now.journalMax !== stamp.journalMax || store.journal.pendingRows().length > 0) return 'conversations changed since (ops were journaled)';
  if (now.refreshRun !== stamp.refreshRun) return 'drift was refreshed since';
  if (now.held > 0) return 'ops are held back';
  const refreshEvery = config.drift.refreshEveryRuns;
  if (refreshEvery > 0 && store.drift.runsSinceRefresh() >= refreshEvery) return 'a drift refresh is due';
  if (store.reads.unfinishedRunsBetween(stamp.runId, runId) > 0) return 'a run since did not finish well';
  const names = new Set(config.sources.map((s) => s.name));
  if (Object.keys(stamp.sources).length !== names.size || Object.keys(stamp.sources).some((n) => !names.has(n))) return 'the sources changed';
  return undefined;
}

/** the first source that changed (or cannot tell), asked all at once */
async function changedSource(deps: RunDeps, stamp: PlanStamp): Promise<string | undefined> {
  const { store, config } = deps;
  const versions = store.reads.versions();
  const signal = deps.signal ?? new AbortController().signal;
  const answers = await Promise.all(
    config.sources.map(async (c): Promise<string | undefined> => {
      if ((versions.get(c.name) ?? 0) !== stamp.sources[c.name]) return `source ${c.name} was read or written since`;
      if (FED_BY_STORE.has(c.type)) return storeFedChange(deps, c, stamp);
      return askSource(
        deps.sources.find((s) => s.id === c.name),
        signal,
      );
    }),
  );
  return answers.find((a) => a !== undefined);
}

function storeFedChange(deps: RunDeps, c: SourceConfig, stamp: PlanStamp): string | undefined {
  const { reads } = deps.store;
  if (!reads.feedTriggersIntact()) return 'the store cannot tell whether pushes or logins changed (a trigger is missing)';
  if (c.type === 'saml' && reads.samlExpiredBetween(c.name, stamp.at, new Date().toISOString(), c.membershipTtlHours * 3_600_000))
    return `source ${c.name}: memberships expired since`;
  return undefined;
}

async function askSource(source: Source | undefined, signal: AbortSignal): Promise<string | undefined> {
  if (!source?.changed) return `source ${source?.id ?? '?'} cannot tell whether it changed`;
  try {
    return (await source.changed(signal)) ? `source ${source.id} changed` : undefined;
  } catch (e) {
    if (e instanceof AuthError) throw e;
    return `source ${source.id} could not tell whether it changed (${describeError(e)})`;
  }
}

function unchangedOutcome(deps: RunDeps, runId: number, stamp: PlanStamp): RunOutcome {
  const { config, store } = deps;
  const next = new Date(Date.parse(stamp.fullAt ?? stamp.at) + durationMs(config.reconcile.fullPlanEvery)).toISOString();
  const plan: Plan = {
    version: 1,
    ownerId: config.ownerId,
    policy: config.policy,
    snapshotDigest: stamp.snapshotDigest,
    ops: [],
    blocked: [],
    warnings: [
      `unchanged since run ${stamp.runId}: no source changed and no conversation moved, so nothing was read or planned (next full plan by ${next}, reconcile.fullPlanEvery)`,
    ],
    summary: summarize([], []),
  };
  store.runs.finish(runId, { result: 'unchanged', exitCode: 0, summary: { plan: plan.summary, unchanged: { since: stamp.runId } }, plan });
  return { runId, mode: 'sync', plan, readErrors: [], exitCode: 0 };
}

const SECRET_KEY = /token|password|secret|cookie/i;

/** the configuration, secrets left out, and the convsync version: either changing may change a plan */
export function configDigest(config: Config): string {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (typeof v !== 'object' || v === null) return v;
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => !SECRET_KEY.test(k))
        .map(([k, x]) => [k, strip(x)]),
    );
  };
  return createHash('sha256')
    .update(JSON.stringify([VERSION, strip(config)]))
    .digest('hex');
}
