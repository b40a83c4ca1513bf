import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

describe('convsync explain', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('traces a user and a group through source, mapping, identity and plan, with the reasons', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 12, users: 14 });
    h.writeConfig({ guards: { maxRemovalsPerRun: 100, maxRemovalRatio: 0.2, removalRatioMinMembers: 10, protect: [] } });
    expect((await h.cli(['sync'])).code).toBe(0);
    const eng = h.directory.groups[0]!;
    for (const m of eng.members.slice(0, 6)) h.scim.removeMember(eng.id, m.value);
    h.scim.addGroup({ id: 'g-x', displayName: 'all-staff', members: [{ value: eng.members[0]!.value, type: 'User' }] });
    h.scim.addMember(eng.id, h.directory.users[13]!.id);
    const leaver = h.directory.users.find((u) => u.id === eng.members[0]!.value)!;
    const writes = h.wire.writeCalls().length;

    const user = await h.cli(['explain', '--user', leaver.email]);
    expect(user.code, user.stderr).toBe(0);
    expect(user.stdout).toContain(`User ${leaver.userName} (source corp, id ${leaver.id})`);
    expect(user.stdout).toContain(`identity: externalId = "${leaver.externalId}" → ${leaver.externalId}`);
    expect(user.stdout).toMatch(/group corp:g-x "all-staff"\n {4}no mapping matches: not synced/);
    expect(user.stdout).toMatch(/conversation "Team eng" \(group:corp:g-00001\): a member \(added by convsync\), in none of its groups/);
    expect(user.stdout).toMatch(/held back \(guard\): remove — why: held back by guards: group:corp:g-00001 would lose 6 of 12 members/);

    const group = await h.cli(['explain', '--group', 'team-eng']);
    expect(group.code, group.stderr).toBe(0);
    expect(group.stdout).toContain('Group corp:g-00001 "team-eng" (source corp): 7 member(s)');
    expect(group.stdout).toMatch(/mapping #0 → conversation "Team eng" \(group:corp:g-00001, remove: managed\)/);
    expect(group.stdout).toMatch(/bound to [0-9a-f-]{36} \(owner convsync\): 12 member\(s\) known/);
    expect(group.stdout).toMatch(/plan: add 1 member\(s\) — why: corp:g-00001 → mapping #0/);

    expect((await h.cli(['explain', '--user', 'nobody'])).stderr).toMatch(/no user matches "nobody"/);
    expect((await h.cli(['explain'])).code).toBe(1);
    // explain never writes to the backend
    expect(h.wire.writeCalls().length).toBe(writes);
  });
});
