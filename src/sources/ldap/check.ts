import type { LdapSourceConfig } from '../../config/ldap-schema.js';
import { runPool } from '../../pool.js';
import type { ReadGroup as StoredGroup } from '../../store/source-reads.js';
import type { Asked } from './incremental.js';
import { firstMoved, movedWhy, unexplainedWhy } from './incremental.js';
import { readOutside } from './outside.js';
import type { SearchContext } from './paged-search.js';
import { fromStored, isOutsideId, sameStoredGroup, toStoredGroup, toStoredOutside, toStoredUser } from './stored.js';

/**
 * What differs between the stored read and what the cursor queries found, told without loading
 * the stored read whole or expanding it: a changed group or user not as stored, a stored one no
 * longer listed, a listed one neither stored nor changed, a group among the entries outside the
 * listings whose members moved. Undefined: the stored read is the directory as of now. When no
 * group or user differs, the entries outside the listings that the groups reach are the stored ones.
 */
export async function differsFromStored(
  ctx: SearchContext,
  config: LdapSourceConfig,
  asked: Asked,
  stored: { groups: readonly StoredGroup[]; users: ReadonlyMap<string, string> },
): Promise<string | undefined> {
  const { groupIds, userIds, changedGroups, changedUsers } = asked;
  if (groupIds.withoutId.length + changedGroups.withoutId.length > 0) return 'a group has no id: the read could not be stored';
  if (groupIds.shared.size > 0) return `two groups have the id ${[...groupIds.shared][0]}`;
  const groups = new Map(stored.groups.filter((g) => !isOutsideId(g.id)).map((g) => [g.id, g]));
  for (const g of changedGroups.groups) {
    if (g.failure !== undefined) return `group ${g.dn}: ${g.failure}`;
    const before = groups.get(g.id);
    if (!before || !sameStoredGroup(before, toStoredGroup(g))) return `group ${g.dn} changed`;
  }
  const changedUserIds = new Set<string>();
  for (const u of changedUsers.byDn.values()) {
    changedUserIds.add(u.id);
    if (stored.users.get(u.id) !== toStoredUser(u).data) return `user ${String(u.raw.dn)} changed`;
  }
  for (const [id, text] of asked.disabledIds ? stored.users : []) {
    const active = !asked.disabledIds!.has(id);
    if (!changedUserIds.has(id) && (JSON.parse(text) as { active?: unknown }).active !== active) return `user ${id} was ${active ? 'enabled' : 'disabled'}`;
  }
  const changedGroupIds = new Set(changedGroups.groups.map((g) => g.id));
  for (const id of groups.keys()) if (!groupIds.ids.has(id) && !changedGroupIds.has(id)) return `group ${id} is gone`;
  for (const id of stored.users.keys()) if (!userIds.ids.has(id) && !changedUserIds.has(id)) return `user ${id} is gone`;
  for (const [id, dn] of groupIds.ids) if (!groups.has(id) && !changedGroupIds.has(id)) return unexplainedWhy(dn);
  for (const [id, dn] of userIds.ids) if (!stored.users.has(id) && !changedUserIds.has(id)) return unexplainedWhy(dn);
  const dnOf = (text: string | undefined, path: (v: Record<string, unknown>) => unknown) =>
    text === undefined ? undefined : path(JSON.parse(text) as Record<string, unknown>);
  const moved =
    firstMoved(groupIds, (id) => dnOf(groups.get(id)?.data, (v) => v.dn), changedGroupIds) ??
    firstMoved(userIds, (id) => dnOf(stored.users.get(id), (v) => (v.raw as Record<string, unknown> | undefined)?.dn), changedUserIds);
  if (moved) return movedWhy(moved);
  return outsideGroupsDiffer(
    ctx,
    config,
    stored.groups.filter((g) => isOutsideId(g.id)),
  );
}

/** the groups among the stored entries outside the listings, read again and compared */
async function outsideGroupsDiffer(ctx: SearchContext, config: LdapSourceConfig, rows: StoredGroup[]): Promise<string | undefined> {
  const known = fromStored(rows, new Map()).directory.outside;
  let why: string | undefined;
  const groups = [...known].filter(([, o]) => o.kind === 'group');
  await runPool(groups, config.concurrency, async ([key, before]) => {
    if (why !== undefined) return;
    const now = await readOutside(ctx, key, config.groups.memberAttribute);
    if (now.kind === 'failed') why = `member ${key} could not be read: ${now.why}`;
    else if (before.kind === 'failed' || !sameStoredGroup(toStoredOutside(key, before), toStoredOutside(key, now))) why = `nested group ${key} changed`;
  });
  return why;
}
