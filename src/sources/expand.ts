import type { DesiredGroup, SourceUser } from './types.js';

export interface FlatGroup {
  id: string;
  displayName: string;
  /** ids of users, or of other groups (nested) */
  members: string[];
}

/**
 * Groups whose members are user or group ids → groups of users, nested groups expanded without
 * looping on a cycle. Member ids that are neither are reported once per group that lists them.
 */
export function expandGroups(source: string, groups: readonly FlatGroup[], users: ReadonlyMap<string, SourceUser>): { groups: DesiredGroup[]; unknown: [string, string][] } {
  const byId = new Map(groups.map((g) => [g.id, g]));
  const unknown: [string, string][] = [];
  const out = groups.map((g) => {
    const members = new Map<string, SourceUser>();
    const visited = new Set([g.id]);
    const queue = [...g.members];
    // an index, not shift(): shift is O(n) and made large groups quadratic
    for (let i = 0; i < queue.length; i++) {
      const id = queue[i]!;
      const user = users.get(id);
      if (user) members.set(id, user);
      else if (byId.has(id) && !visited.has(id)) {
        visited.add(id);
        queue.push(...byId.get(id)!.members);
      }
    }
    for (const id of g.members) if (!users.has(id) && !byId.has(id)) unknown.push([g.id, id]);
    return { key: `${source}:${g.id}`, source, id: g.id, displayName: g.displayName, members: [...members.values()], complete: true };
  });
  return { groups: out, unknown };
}
