import { groupKey } from '../../group-key.js';
import type { DesiredGroup, SourceUser } from '../types.js';

/** a group as read, its members as DN keys (member, uniqueMember) or lower-cased uids (memberUid) */
export interface ReadGroup {
  /** dnKey of its DN */
  dnKey: string;
  dn: string;
  id: string;
  displayName: string;
  members: string[];
  /** why its members are unknown (a range that could not be read) */
  failure?: string;
}

/** a member DN that is neither a listed user nor a listed group, as reading it found it */
export type Outside = { kind: 'group'; dn: string; members: string[] } | { kind: 'missing' } | { kind: 'not-user' } | { kind: 'failed'; why: string };

export interface Directory {
  source: string;
  groups: ReadGroup[];
  /** users by DN key, and by lower-cased uid for memberUid groups */
  usersByDn: ReadonlyMap<string, SourceUser>;
  usersByUid: ReadonlyMap<string, SourceUser>;
  outside: ReadonlyMap<string, Outside>;
  /** DN keys and uids of users whose id could not be read */
  withoutId: ReadonlySet<string>;
  byUid: boolean;
  expandNested: boolean;
}

export interface Expanded {
  groups: DesiredGroup[];
  warnings: string[];
}

/**
 * Each listed group with the users it reaches: nested groups (listed or not) expanded when asked,
 * each group entered once per expansion so a cycle ends. A member that could not be read, or a
 * user whose id could not be read, makes the group unknown; a member that does not exist, or is
 * not a user of this source, is left out and said so.
 */
export function expandDirectory(d: Directory): Expanded {
  const byDn = new Map(d.groups.map((g) => [g.dnKey, g]));
  const warnings: string[] = [];
  // which group last took each user: one map for the whole read instead of a set per group
  const takenBy = new Map<SourceUser, number>();
  const groups = d.groups.map((g, n): DesiredGroup => {
    const out: DesiredGroup = { key: groupKey(d.source, g.id), source: d.source, id: g.id, displayName: g.displayName, members: [], complete: true };
    if (g.failure) return { ...out, complete: false, unknownReason: g.failure };
    const left: string[] = [];
    const visited = new Set([g.dnKey]);
    let queue = g.members;
    for (let i = 0; i < queue.length; i++) {
      const m = queue[i]!;
      const user = d.byUid ? d.usersByUid.get(m) : d.usersByDn.get(m);
      if (user) {
        if (takenBy.get(user) !== n) {
          takenBy.set(user, n);
          out.members.push(user);
        }
        continue;
      }
      if (d.withoutId.has(m)) {
        out.complete = false;
        out.unknownReason = `member ${m} is a user whose id could not be read`;
        continue;
      }
      if (d.byUid) {
        left.push(`uid ${m} (no such user)`);
        continue;
      }
      const nested = byDn.get(m);
      const outside = nested ? undefined : d.outside.get(m);
      if (nested || outside?.kind === 'group') {
        if (!d.expandNested || visited.has(m)) continue;
        visited.add(m);
        if (nested?.failure) {
          out.complete = false;
          out.unknownReason = `nested group ${nested.dn}: ${nested.failure}`;
          continue;
        }
        if (queue === g.members) queue = [...queue];
        queue.push(...(nested ? nested.members : (outside as { members: string[] }).members));
      } else if (outside === undefined || outside.kind === 'failed') {
        out.complete = false;
        out.unknownReason = `member ${m} could not be read${outside ? `: ${outside.why}` : ''}`;
      } else if (outside.kind === 'missing') left.push(`${m} (no such entry)`);
      else left.push(`${m} (not a user under users.baseDn matching users.filter)`);
    }
    if (left.length > 0) {
      warnings.push(`${out.key} ("${g.displayName}"): ${left.length} member(s) left out: ${left.slice(0, 3).join(', ')}${left.length > 3 ? ', …' : ''}`);
    }
    return out;
  });
  return { groups, warnings };
}
