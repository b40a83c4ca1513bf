import { describe, expect, it } from 'vitest';
import { MINUTE, scimOnClockPerTest } from '../helpers/scim-on-clock.js';

const open = scimOnClockPerTest();

describe('SCIM pull, incremental: the listing of ids that says what was deleted', () => {
  it('does not take a live group as deleted when the listing of ids shifted under it (one group deleted and one made between its pages)', async () => {
    const { clock, sandbox, fetch } = await open();
    const first = await fetch();
    expect(first.groups.map((g) => g.id)).toEqual(['g-00001', 'g-00002', 'g-00003', 'g-00004', 'g-00005', 'g-00006']);
    clock.t += MINUTE;

    // a group deleted: the total moves, so the incremental read lists ids (pages of 4)
    sandbox.deleteGroup('g-00006');
    const s = sandbox;
    // while it lists them, after its first page: a group on that page deleted, another made
    const off = s.onPage((p) => {
      if (p.resource !== 'Groups' || p.startIndex !== 1 || p.ids.length !== 4) return;
      off();
      s.deleteGroup('g-00001');
      s.addGroup({ id: 'g-00099', displayName: 'team-new', members: [{ value: 'u-000001', type: 'User' }] });
    });
    const second = await fetch();
    // g-00005 was never deleted: asked for by id, it is kept; the group deleted before the read is gone
    expect(s.groups.has('g-00005')).toBe(true);
    expect(second.groups.map((g) => g.id)).toContain('g-00005');
    expect(second.groups.map((g) => g.id)).not.toContain('g-00006');
  });

  it('still takes a group renamed out of the group filter as gone from the source (asked for by id, it is outside the filter)', async () => {
    const { clock, sandbox, fetch } = await open({ groups: { filter: 'displayName sw "team-"' } });
    await fetch();
    clock.t += MINUTE;
    sandbox.renameGroup('g-00003', 'other');
    sandbox.deleteGroup('g-00004');
    const second = await fetch();
    expect(second.listingComplete).toBe(true);
    expect(second.groups.map((g) => g.id)).toEqual(['g-00001', 'g-00002', 'g-00005', 'g-00006']);
  });
});
