import type { Store } from '../store/store.js';

/** every handle is compared, cached and journaled in one form */
export const handleKey = (h: string) => h.trim().toLowerCase();

/**
 * Handles → backend user ids through the store's identity cache: only handles not looked up within
 * the TTL go to the backend, and "not found" is cached too, so an unknown handle costs one lookup
 * per TTL, not one per run.
 */
export async function resolveHandles(
  handles: Iterable<string>,
  store: Store,
  lookup: (handles: string[]) => Promise<Map<string, string | null>>,
  ttlHours: number,
  /** what kind of lookup the cache rows are (`handle`, `known`) */
  kind = 'handle',
  /** handles whose cached "not found" is not trusted (a user the plan would make: made by hand since, they must not be made twice) */
  recheckNotFound?: (handle: string) => boolean,
): Promise<Map<string, string | null>> {
  const wanted = [...new Set([...handles].map(handleKey))].sort();
  const since = new Date(Date.now() - ttlHours * 3_600_000).toISOString();
  const cached = store.users.cachedIdentities(
    wanted.map((h) => `${kind}:${h}`),
    since,
  );
  const out = new Map<string, string | null>();
  const missing: string[] = [];
  for (const h of wanted) {
    const hit = cached.get(`${kind}:${h}`);
    if (hit === undefined || (hit === null && recheckNotFound?.(h))) missing.push(h);
    else out.set(h, hit);
  }
  if (missing.length > 0) {
    const found = await lookup(missing);
    const toCache = new Map<string, string | null>();
    for (const h of missing) {
      const id = found.get(h) ?? null;
      out.set(h, id);
      toCache.set(`${kind}:${h}`, id);
    }
    store.users.cacheIdentities(toCache);
  }
  return out;
}
