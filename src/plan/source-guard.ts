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
    if (!g.complete || g.members.length > 0 || before === 0) return g;
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
