import { describe, expect, it } from 'vitest';
import { distrustVanishedGroups, sourceShrink } from '../../src/plan/source-guard.js';

describe('source guards', () => {
  it('trips on an empty listing, and on a large shrink of counts that were at least 20', () => {
    expect(sourceShrink('corp', { groups: 0, memberships: 0 }, { groups: 3, memberships: 5 }, 0.5)).toMatch(
      /lists no groups at all, where its last good read had 3/,
    );
    expect(sourceShrink('corp', { groups: 1, memberships: 2 }, { groups: 3, memberships: 12 }, 0.5)).toBeUndefined();
    expect(sourceShrink('corp', { groups: 40, memberships: 900 }, { groups: 100, memberships: 1000 }, 0.5)).toMatch(/lists 40 groups, 60% fewer than the 100/);
    expect(sourceShrink('corp', { groups: 100, memberships: 400 }, { groups: 100, memberships: 1000 }, 0.5)).toMatch(/400 memberships, 60% fewer/);
    expect(sourceShrink('corp', { groups: 60, memberships: 600 }, { groups: 100, memberships: 1000 }, 0.5)).toBeUndefined();
    expect(sourceShrink('corp', { groups: 1, memberships: 1 }, undefined, 0.5)).toBeUndefined();
  });

  it('distrusts a group that read empty after having members, unless removals are approved', () => {
    const g = { key: 'corp:g', source: 'corp', id: 'g', displayName: 'team-g', members: [], complete: true };
    const out = distrustVanishedGroups([g], new Map([['corp:g', 300]]), false);
    expect(out.groups[0]).toMatchObject({ complete: false, suspect: true, unknownReason: 'came back with no members (had 300 at the last good read)' });
    expect(distrustVanishedGroups([g], new Map([['corp:g', 300]]), true).groups[0]).toBe(g);
    expect(distrustVanishedGroups([g], new Map(), false).groups[0]).toBe(g);
  });
});
