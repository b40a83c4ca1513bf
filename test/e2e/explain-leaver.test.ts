import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

describe('convsync explain --user', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('explains the removal of someone who is in no group any more, found by their backend id', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 4, users: 8 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const eng = h.directory.groups[0]!;
    const leaver = eng.members[0]!.value;
    // in no other group
    expect(h.directory.groups.filter((g) => g.members.some((m) => m.value === leaver))).toHaveLength(1);
    h.scim.removeMember(eng.id, leaver);
    const res = await h.cli(['explain', '--user', h.wireId(leaver)]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/conversation "Team eng" \(group:corp:g-00001\): a member \(added by convsync\), in none of its groups/);
    expect(res.stdout).toMatch(/plan: remove — why: added by convsync, no longer in corp:g-00001/);
  });
});
