import { groupKey } from '../group-key.js';
import type { DesiredGroup, SourceUser } from './types.js';

export interface FlatGroup {
  id: string;
  displayName: string;
  /** ids of users, or of other groups (nested) */
  members: string[];
}

/**
 * Groups whose members are user or group ids → groups of users, nested groups expanded without
 * looping on a cycle. Member ids that are neither are reported once per group that lists them; the
 * ids a group lists that are other groups' (not users') are given too, in the order listed.
 */
export function expandGroups(
  source: string,
  groups: readonly FlatGroup[],
  users: ReadonlyMap<string, SourceUser>,
): { groups: DesiredGroup[]; unknown: [string, string][]; nested: Map<string, string[]> } {
  const byId = new Map(groups.map((g) => [g.id, g]));
  // which group last took each user: a user listed twice, or reached through two nested groups,
  // counts once, without a set per group (a million memberships made that a second per read)
  const taken = new Map<string, { user: SourceUser; by: number }>();
  for (const [id, user] of users) taken.set(id, { user, by: -1 });
  const unknown: [string, string][] = [];
  const nestedIds = new Map<string, string[]>();
  const out = groups.map((g, n): DesiredGroup => {
    const members: SourceUser[] = [];
    let queue = g.members;
    let visited: Set<string> | undefined;
    // an index, not shift(): shift is O(n) and made large groups quadratic
    for (let i = 0; i < queue.length; i++) {
      const id = queue[i]!;
      const entry = taken.get(id);
      if (entry !== undefined) {
        if (entry.by !== n) {
          entry.by = n;
          members.push(entry.user);
        }
        continue;
      }
      const nested = byId.get(id);
      if (nested === undefined) {
        if (i < g.members.length) unknown.push([g.id, id]);
        continue;
      }
      if (i < g.members.length) (nestedIds.get(g.id) ?? nestedIds.set(g.id, []).get(g.id)!).push(id);
      visited ??= new Set([g.id]);
      if (visited.has(id)) continue;
      visited.add(id);
      if (queue === g.members) queue = [...queue];
      queue.push(...nested.members);
    }
    return { key: groupKey(source, g.id), source, id: g.id, displayName: g.displayName, members, complete: true };
  });
  return { groups: out, unknown, nested: nestedIds };
}
