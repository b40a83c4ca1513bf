import type { IdentityResolver } from '../identity/resolve.js';
import { mapGroups } from '../mapping/map.js';
import { computePlan } from '../plan/compute.js';
import type { SourceSize } from '../plan/source-guard.js';
import type { DesiredConversation, Plan } from '../plan/types.js';
import type { DesiredGroup } from '../sources/types.js';
import { guardWindow, refusedLately } from './bookkeeping.js';
import { reconcilerFor, type RunDeps } from './deps.js';
import { identityFor } from './identity-for.js';
import { readSources } from './read-sources.js';
import type { Reconciler } from './reconciler.js';

/** sources → desired conversations → plan, with nothing written to the backend */
export async function planRun(
  deps: RunDeps,
  reconciler: Reconciler,
  selfId: string,
  allowRemovals: boolean,
  signal: AbortSignal,
  scope?: ReadonlySet<string>,
  opts: { newUsers?: boolean } = {},
): Promise<{
  plan: Plan;
  readErrors: string[];
  groups: DesiredGroup[];
  desired: DesiredConversation[];
  goodSizes: Map<string, SourceSize>;
  identity: IdentityResolver;
}> {
  const { config, store, backend, logger } = deps;
  const { groups, warnings, readErrors, incompleteSources, tripped, goodSizes } = await readSources(deps, {
    allowRemovals,
    signal,
    ...(scope ? { scope } : {}),
  });
  const { resolver: identity, newUsers } = await identityFor(deps, groups, reconciler);
  // creates whose answer was lost and that are not found yet: never planned a second time
  const inFlight = new Set(
    store.journal
      .pendingRows()
      .filter((r) => r.op.op === 'create' || r.op.op === 'contact')
      .map((r) => r.op.key),
  );
  let snapshot = store.loadSnapshot();
  const mapped = mapGroups(groups, config.mappings, (u) => identity.resolve(u), backend.capabilities.removedGroup, snapshot.users);
  warnings.push(...mapped.warnings, ...identity.warnings());
  if (newUsers.length > 0) warnings.push(`${newUsers.length} user(s) are not on ${backend.id} yet: made on apply, then added to their conversations`);

  let desired = mapped.conversations;
  if (scope) {
    const touches = (gs: string[]) => gs.some((g) => scope.has(g));
    desired = desired.filter((d) => touches(d.groups));
    const keys = new Set(desired.map((d) => d.key));
    const inScope = (c: { key: string; groups: string[] }) => keys.has(c.key) || touches(c.groups);
    snapshot = {
      ...snapshot,
      conversations: snapshot.conversations.filter(inScope),
      ...(snapshot.unbound ? { unbound: snapshot.unbound.filter(inScope) } : {}),
    };
  }
  const plan = computePlan({
    desired,
    snapshot,
    policy: config.policy,
    ownerId: config.ownerId,
    selfId,
    // one id form: what the operator wrote is compared as the backend writes it
    guards: { ...config.guards, protect: config.guards.protect.map((p) => backend.parseUserId(p) ?? p) },
    ...(scope ? { window: guardWindow(store, config.guards.window) } : {}),
    ...(opts.newUsers !== false && newUsers.length > 0 ? { newUsers: newUsers.filter((u) => !inFlight.has(u.key)) } : {}),
    ...(inFlight.size > 0 ? { inFlight } : {}),
    refused: refusedLately(store, config.identity.cacheTtlHours),
    held: store.guards.heldOps(),
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
  logger.info({ groups: groups.length, unmatched: mapped.unmatched, conversations: mapped.conversations.length, ...plan.summary }, 'plan computed');
  return { plan, readErrors, groups, desired, goodSizes, identity };
}

/** everything `convsync explain` traces, computed like a dry run (nothing written to the backend) */
export async function planForExplain(deps: RunDeps) {
  const reconciler = reconcilerFor(deps, true);
  const self = await reconciler.whoami();
  const out = await planRun(deps, reconciler, self.userId, false, deps.signal ?? new AbortController().signal);
  return { ...out, selfId: self.userId, snapshot: deps.store.loadSnapshot() };
}
