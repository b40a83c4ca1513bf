import type { Backend } from '../backends/types.js';
import type { Config } from '../config/schema.js';
import { handleKey, resolveHandles } from '../identity/lookup.js';
import { createIdentityResolver, identityValue, type IdentityResolver } from '../identity/resolve.js';
import { matchGroup } from '../mapping/map.js';
import type { ContactOp } from '../plan/types.js';
import type { DesiredGroup } from '../sources/types.js';
import type { Store } from '../store/store.js';
import type { Reconciler } from './reconciler.js';

export interface BackendIdentity {
  resolver: IdentityResolver;
  /** users the backend would make before they can be members: planned ops, made only on apply */
  newUsers: ContactOp[];
}

/** identity by attribute, or by handle looked up on the backend (cached in the store) */
export async function identityFor(
  deps: { config: Config; backend: Backend; store: Store },
  groups: DesiredGroup[],
  reconciler: Reconciler,
): Promise<BackendIdentity> {
  const { config, backend } = deps;
  const { from, lookup } = config.identity;
  if (lookup === 'none' && backend.knownUsers && backend.capabilities.verifyUserIds) {
    return { resolver: await verifiedIds(deps, groups, reconciler), newUsers: [] };
  }
  if (lookup === 'none') return { resolver: createIdentityResolver(from, (v) => backend.parseUserId(v)), newUsers: [] };
  return byHandle(deps, groups, reconciler);
}

/** users of the mapped groups, active, with their identity value */
function* mappedUsers(config: Config, groups: DesiredGroup[]) {
  for (const g of groups) {
    if (!matchGroup(g, config.mappings)) continue;
    for (const u of g.members) {
      const v = u.active ? identityValue(u, config.identity.from) : undefined;
      if (v !== undefined) yield { user: u, value: v };
    }
  }
}

/** a backend that drops unknown ids silently: they are checked (cached) and reported instead */
async function verifiedIds(
  deps: { config: Config; backend: Backend; store: Store },
  groups: DesiredGroup[],
  reconciler: Reconciler,
): Promise<IdentityResolver> {
  const { config, backend, store } = deps;
  const ids = new Set<string>();
  for (const { value } of mappedUsers(config, groups)) {
    const id = backend.parseUserId(value);
    if (id) ids.add(id);
  }
  const verified = await resolveHandles(
    ids,
    store,
    async (batch) => {
      const known = await reconciler.knownUsers(batch);
      return new Map(batch.map((id) => [id, known.has(id) ? id : null]));
    },
    config.identity.cacheTtlHours,
    'known',
  );
  return createIdentityResolver(
    config.identity.from,
    (v) => {
      const id = backend.parseUserId(v);
      return id && verified.get(id) ? id : undefined;
    },
    `not a user ${backend.id} knows`,
  );
}

/** handles looked up (reads only); a handle nobody has becomes a planned user where the backend makes them */
async function byHandle(deps: { config: Config; backend: Backend; store: Store }, groups: DesiredGroup[], reconciler: Reconciler): Promise<BackendIdentity> {
  const { config, backend, store } = deps;
  const handles = new Set<string>();
  // the handle as the directory writes it: a user made on the backend gets it, not the compared form
  const details = new Map<string, { handle: string; phone?: string; displayName?: string }>();
  for (const { user, value } of mappedUsers(config, groups)) {
    handles.add(value);
    const phone = config.identity.phoneFrom ? identityValue(user, config.identity.phoneFrom) : undefined;
    details.set(handleKey(value), { handle: value.trim(), ...(phone ? { phone } : {}), ...(user.displayName ? { displayName: user.displayName } : {}) });
  }
  const wouldMake = (handle: string) => {
    const { handle: written = handle, ...about } = details.get(handle) ?? {};
    return backend.newUser?.(written, about);
  };
  const ids = await resolveHandles(
    handles,
    store,
    (h) => reconciler.lookupHandles(h),
    config.identity.cacheTtlHours,
    'handle',
    (h) => wouldMake(h) !== undefined,
  );
  const newUsers: ContactOp[] = [];
  for (const [handle, id] of ids) {
    const written = details.get(handle)?.handle ?? handle;
    const made = id === null ? wouldMake(handle) : undefined;
    if (made) newUsers.push({ op: 'contact', key: `contact:${handle}`, name: written, reason: `no ${backend.id} user has this handle`, ...made });
  }
  const resolver = createIdentityResolver(config.identity.from, (v) => ids.get(handleKey(v)) ?? undefined, `no ${backend.id} user has this handle`);
  return { resolver, newUsers };
}
