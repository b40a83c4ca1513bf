import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

describe('convsync explain --user, a leaver by backend id in another form', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('finds a Wire leaver named by uuid@own-domain, in upper case (one id form)', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 4, users: 8 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const eng = h.directory.groups[0]!;
    const leaver = eng.members[0]!.value;
    h.scim.removeMember(eng.id, leaver);
    const res = await h.cli(['explain', '--user', `${h.wireId(leaver).toUpperCase()}@${h.wire.domain}`]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/conversation "Team eng" \(group:corp:g-00001\): a member \(added by convsync\), in none of its groups/);
  });
});
