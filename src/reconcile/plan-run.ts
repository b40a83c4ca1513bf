import type { MappingConfig } from '../config/schema.js';
import type { IdentityResolver } from '../identity/resolve.js';
import { mapGroups } from '../mapping/map.js';
import { UserIds } from '../members/user-ids.js';
import { computePlan } from '../plan/compute.js';
import type { SourceSize } from '../plan/source-guard.js';
import type { DesiredConversation, Plan, Snapshot } from '../plan/types.js';
import type { DesiredGroup, SourceUser } from '../sources/types.js';
import type { Store } from '../store/store.js';
import { guardWindow, refusedLately } from './bookkeeping.js';
import { reconcilerFor, type RunDeps } from './deps.js';
import { partIdentity, partNumbers, PlanParts, storedParts } from './group-parts.js';
import { identityFor } from './identity-for.js';
import { readSources, type SourcesRead } from './read-sources.js';
import { printGroups, scopeOfChange, type ChangeScope } from './changed-groups.js';
import { printKeyOf } from '../sources/print.js';
import { RunScope } from './run-scope.js';
import type { Reconciler } from './reconciler.js';
import type { BackendCapabilities } from '../backends/types.js';

/** the backend's limits as the plan counts them */
function limitsOf(c: BackendCapabilities): { maxMembers?: number; maxNameLength?: number } {
  return {
    // the plan counts the daemon among the members; a backend where it is not one has one more seat
    ...(c.maxMembers !== undefined ? { maxMembers: c.maxMembers + (c.selfIsMember === false ? 1 : 0) } : {}),
    ...(c.maxNameLength !== undefined ? { maxNameLength: c.maxNameLength } : {}),
  };
}

/** sources → desired conversations → plan, with nothing written to the backend */
export async function planRun(
  deps: RunDeps,
  reconciler: Reconciler,
  selfId: string,
  allowRemovals: boolean,
  signal: AbortSignal,
  scope?: ReadonlySet<string>,
  opts: PlanRunOptions = {},
): Promise<PlannedRun> {
  const { config, store, backend, logger } = deps;
  const runScope = scope && new RunScope(scope, config.mappings, store.bindingGroups.all(), store.bindingGroups.gone());
  const readPartial = opts.partial === true && opts.print === true && !scope;
  const read = await readSources(deps, { allowRemovals, signal, scope, partial: readPartial, ...(runScope && { select: (heads) => runScope.select(heads) }) });
  const { warnings, readErrors, incompleteSources, tripped, goodSizes } = read;
  const { prints, change } = changeOf(deps, read, opts, scope);
  const groups = change ? read.groups.filter((g) => change.keys.has(g.key)) : read.groups;
  const rule = partIdentity(config, backend);
  // a full plan resolves every member: it is what sets right a part gone wrong
  const stored = storedParts(store, groups, change && rule);
  // the members of only the conversations a plan can look at are read (those of a plan of what changed are narrowed below)
  const only = runScope ? new Set([...runScope.conversations, ...runScope.claimOnly]) : change?.reach;
  let snapshot = store.loadSnapshot(only, partNumbers(stored));
  const { resolver: identity, newUsers } = await identityFor(deps, groups, reconciler);
  const inFlight = createsInFlight(store);
  const users = snapshot.users ?? UserIds.empty();
  const resolve = (u: SourceUser) => identity.resolve(u);
  const parts = rule === undefined ? undefined : new PlanParts(users).load(groups, stored, resolve, (ids) => store.parts.numbersOf(ids));
  const mapped = mapGroups(groups, config.mappings, resolve, backend.capabilities.removedGroup, users, parts);
  warnings.push(...mapped.warnings, ...identity.warnings());
  if (newUsers.length > 0) warnings.push(`${newUsers.length} user(s) are not on ${backend.id} yet: made on apply, then added to their conversations`);

  let desired = mapped.conversations;
  freezeWhereUnreadMayFeed(desired, config.mappings, incompleteSources);
  // a scoped run read the groups of its conversations only, and its snapshot holds only those
  if (runScope) desired = desired.filter((d) => runScope.conversations.has(d.key));
  if (change) ({ desired, snapshot } = narrowedToChange(desired, snapshot, change));
  const plan = computePlan({
    desired,
    snapshot,
    ...(change && { snapshotIsPart: true }),
    policy: config.policy,
    ownerId: config.ownerId,
    selfId,
    // one id form: what the operator wrote is compared as the backend writes it
    guards: { ...config.guards, protect: config.guards.protect.map((p) => backend.parseUserId(p) ?? p) },
    // a partial plan is guarded per run, as the full plan it stands for
    ...(scope ? { window: guardWindow(store, config.guards.window) } : {}),
    ...(opts.newUsers !== false && newUsers.length > 0 ? { newUsers: newUsers.filter((u) => !inFlight.has(u.key)) } : {}),
    ...(inFlight.size > 0 ? { inFlight } : {}),
    ...(runScope ? { neverLetGo: runScope.neverLetGo(incompleteSources.length > 0) } : {}),
    refused: refusedLately(store, config.identity.cacheTtlHours),
    held: store.guards.heldOps(),
    ...limitsOf(backend.capabilities),
    can: { archive: backend.archive !== undefined, delete: backend.delete !== undefined },
    incompleteSources,
    allowRemovals,
    tripped,
    warnings,
  });
  const partial = change && { groups: groups.length, of: read.groups.length, changed: change.changed, fromParts: parts?.used ?? 0 };
  logger.info({ groups: groups.length, unmatched: mapped.unmatched, conversations: mapped.conversations.length, partial, ...plan.summary }, 'plan computed');
  return {
    plan,
    readErrors,
    incompleteSources,
    whole: isWhole(read),
    groups,
    desired,
    goodSizes,
    identity,
    prints,
    change,
    readVersions: read.versions,
    ...(runScope && { scoped: scopedDrift(runScope, read, config.mappings), bindingGroups: runScope.known }),
    ...(parts && { parts: { rule: rule!, found: parts, users } }),
  };
}

export interface PlanRunOptions {
  /** false: users not on the backend yet are not planned (they were just made) */
  newUsers?: boolean;
  /** print the groups read, for the stamp of a complete plan */
  print?: boolean;
  /** only sources changed since the last complete plan: plan the conversations of the groups that differ from its prints */
  partial?: boolean;
}

export interface PlannedRun {
  plan: Plan;
  readErrors: string[];
  /** sources whose absent groups are unknown, not gone (not read, read short, or distrusted) */
  incompleteSources: string[];
  /** every source read in full and trusted: no failure, no listing cut short, no guard tripped on a shrunk source */
  whole: boolean;
  /** the groups planned (a partial plan: those of its scope) */
  groups: DesiredGroup[];
  desired: DesiredConversation[];
  goodSizes: Map<string, SourceSize>;
  identity: IdentityResolver;
  /** every group read, printed (when asked) */
  prints?: Map<string, string>;
  /** a partial plan: which groups it took */
  change?: ChangeScope;
  /** the versions the sources' reads left, for those that tell */
  readVersions: Map<string, number | null>;
  /**
   * a scoped run: the conversations whose drift memory (leavers, conversations deleted by hand) it
   * may settle as a full plan would — each planned whole, from sources read in full and trusted —
   * or undefined when its read says nothing of who left a group
   */
  scoped?: Set<string>;
  /** a scoped run: every conversation bound or let go, with its groups, as it started from them */
  bindingGroups?: RunScope['known'];
  /** each group's members as resolved, where the identity rule lets a later plan start from them */
  parts?: { rule: string; found: PlanParts; users: UserIds };
}

/**
 * A conversation a rule unites groups into (`conv:` key) may be fed now by a group of a source not
 * read, or read short, that no plan has seen feed it yet (so the snapshot does not list it): who is
 * in it is unknown, and its removals are frozen, as for a group of such a source that fed it.
 */
function freezeWhereUnreadMayFeed(desired: DesiredConversation[], mappings: readonly MappingConfig[], incomplete: readonly string[]): void {
  if (incomplete.length === 0) return;
  const feeders = mayFeedFrom(mappings, incomplete);
  for (const d of desired) {
    const sources = feeders(d.key);
    if (sources.length === 0) continue;
    d.unknownReasons.push(`groups of ${sources.map((s) => `source ${s}`).join(', ')} (not read in full) may feed it`);
  }
}

/**
 * Of these sources, those a group of which may feed conversation `key`: through a rule that unites
 * groups (`conversation:`), may take a group of the source, and renders a key of that form (its
 * variables any text; blanks, which rendering may trim, ignored).
 */
export function mayFeedFrom(mappings: readonly MappingConfig[], sources: readonly string[]): (key: string) => string[] {
  const rules = mappings
    .filter((m) => m.conversation !== undefined)
    .map((m) => ({
      takes: [...new Set(sources)].filter((s) => m.match.source === undefined || m.match.source === s),
      // the template's text between its variables, in order (a variable: any text)
      parts: m.conversation!.replace(/\s+/g, '').split(/\{[A-Za-z0-9_]+\}/),
    }))
    .filter((r) => r.takes.length > 0);
  return (key) => {
    if (!key.startsWith('conv:')) return [];
    const name = key.slice('conv:'.length).replace(/\s+/g, '');
    return [...new Set(rules.filter((r) => rendersAs(r.parts, name)).flatMap((r) => r.takes))];
  };
}

/**
 * Whether `text` is `parts` joined by any texts: a glob match without backtracking (a regex of many
 * `[\s\S]*` takes exponential time on a key of another form): the first part starts it, the last
 * ends it, and each one between is taken where it first occurs.
 */
function rendersAs(parts: readonly string[], text: string): boolean {
  if (parts.length === 1) return text === parts[0];
  const first = parts[0]!;
  const last = parts.at(-1)!;
  if (text.length < first.length + last.length || !text.startsWith(first) || !text.endsWith(last)) return false;
  let at = first.length;
  const end = text.length - last.length;
  for (const part of parts.slice(1, -1)) {
    const found = text.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/** the keys of creates whose answer was lost and that are not found yet: never planned a second time */
function createsInFlight(store: Store): Set<string> {
  const rows = store.journal.pendingRows();
  return new Set(rows.filter((r) => r.op.op === 'create' || r.op.op === 'contact').map((r) => r.op.key));
}

/** a plan of what changed looks only at the conversations its groups feed, or fed */
function narrowedToChange(desired: DesiredConversation[], snapshot: Snapshot, change: ChangeScope): { desired: DesiredConversation[]; snapshot: Snapshot } {
  const touches = (gs: string[]) => gs.some((g) => change.keys.has(g));
  const wanted = desired.filter((d) => touches(d.groups));
  const keys = new Set(wanted.map((d) => d.key));
  const inScope = (c: { key: string; groups: string[] }) => keys.has(c.key) || touches(c.groups);
  return {
    desired: wanted,
    snapshot: {
      ...snapshot,
      conversations: snapshot.conversations.filter(inScope),
      ...(snapshot.unbound ? { unbound: snapshot.unbound.filter(inScope) } : {}),
    },
  };
}

/**
 * A run that is told only that sources changed plans the conversations of the groups that did: the
 * groups read, printed, and what a plan of what changed takes (undefined: a full plan), with the
 * binding keys it can look at.
 */
function changeOf(deps: RunDeps, read: SourcesRead, opts: PlanRunOptions, scope: ReadonlySet<string> | undefined) {
  const { store, config, logger } = deps;
  const prints = opts.print && !scope ? printGroups(read.groups, printKeyOf(store.prints.key())) : undefined;
  if (!prints || !opts.partial || !isWhole(read)) return { prints };
  // the prints and the lists of one state: another writer's commit between two reads could hide a change
  const scoped = store.reads.atomically(() =>
    scopeOfChange(
      read.groups,
      prints,
      (p) => store.prints.differing(p),
      config.mappings,
      (groups) => store.bindingGroups.listing(groups),
    ),
  );
  if (typeof scoped !== 'string') return { prints, change: scoped };
  logger.info({ why: scoped }, 'sources changed; planning in full');
  return { prints };
}

/**
 * The conversations a scoped run planned that it read whole: none when a source it read failed,
 * was cut short or distrusted; with a source not read, not those a group of that source may feed
 * (mayFeedFrom).
 */
function scopedDrift(runScope: RunScope, read: SourcesRead, mappings: readonly MappingConfig[]): Set<string> | undefined {
  if (read.readErrors.length > 0 || read.tripped.length > 0) return undefined;
  const unreadMayFeed = mayFeedFrom(mappings, read.incompleteSources);
  return new Set([...runScope.conversations].filter((k) => unreadMayFeed(k).length === 0));
}

/** a read that can be compared group by group: every source read in full, nothing distrusted */
function isWhole(read: SourcesRead): boolean {
  return read.readErrors.length === 0 && read.incompleteSources.length === 0 && read.tripped.length === 0;
}

/** everything `convsync explain` traces, computed like a dry run (nothing written to the backend) */
export async function planForExplain(deps: RunDeps) {
  const reconciler = reconcilerFor(deps, true);
  const self = await reconciler.whoami();
  const out = await planRun(deps, reconciler, self.userId, false, deps.signal ?? new AbortController().signal);
  return { ...out, selfId: self.userId, snapshot: deps.store.loadSnapshot() };
}
