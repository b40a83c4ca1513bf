import type { DesiredGroup } from '../sources/types.js';

/**
 * A group that comes back with no members when it had some at the last good read is far more
 * often a broken read than a team that emptied overnight: its membership is marked unknown, which
 * freezes its removals. `--allow-removals` accepts the empty group as real.
 */
export function distrustVanishedGroups(
  groups: readonly DesiredGroup[],
  previousSizes: ReadonlyMap<string, number>,
  allowRemovals: boolean,
): { groups: DesiredGroup[]; warnings: string[] } {
  const warnings: string[] = [];
  const out = groups.map((g) => {
    const before = previousSizes.get(g.key) ?? 0;
    if (!g.complete || memberCount(g) > 0 || before === 0) return g;
    if (allowRemovals) {
      warnings.push(`${g.key} ("${g.displayName}") is now empty (had ${before}); accepted because removals are approved`);
      return g;
    }
    const unknownReason = `came back with no members (had ${before} at the last good read)`;
    warnings.push(`${g.key} ("${g.displayName}") ${unknownReason}: treated as unknown, its removals are frozen`);
    return { ...g, complete: false, unknownReason, suspect: true };
  });
  return { groups: out, warnings };
}

/** how many members a group has, without reading members a source keeps until asked */
export function memberCount(g: DesiredGroup): number {
  return g.size ?? g.members.length;
}

export interface SourceSize {
  groups: number;
  memberships: number;
}

export function sizeOf(groups: readonly DesiredGroup[]): SourceSize {
  return { groups: groups.length, memberships: groups.reduce((n, g) => n + memberCount(g), 0) };
}

/** counts below this move by large ratios in ordinary life (3 groups → 1 is a reorganisation, not an outage) */
export const SHRINK_MIN_COUNT = 20;

/**
 * A source that lists far fewer groups or memberships than at its last good read (an IdP answering
 * an empty list, a filter gone wrong) is distrusted as a whole: the reason trips the guard. An empty
 * listing where there were groups always trips; the ratio applies to counts of at least 20. A
 * read of some groups only (a run after a push) knows the groups listed, not the memberships.
 */
export function sourceShrink(
  source: string,
  now: { groups: number; memberships?: number },
  before: SourceSize | undefined,
  maxShrink: number,
): string | undefined {
  if (!before) return undefined;
  if (now.groups === 0 && before.groups > 0) return `source ${source} lists no groups at all, where its last good read had ${before.groups}`;
  for (const what of ['groups', 'memberships'] as const) {
    const counted = now[what];
    if (counted === undefined || before[what] < SHRINK_MIN_COUNT) continue;
    const lost = (before[what] - counted) / before[what];
    if (lost > maxShrink) {
      return `source ${source} lists ${counted} ${what}, ${Math.round(lost * 100)}% fewer than the ${before[what]} of its last good read (maxSourceShrink ${Math.round(maxShrink * 100)}%)`;
    }
  }
  return undefined;
}
