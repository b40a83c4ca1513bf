import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, wireState, type Harness } from '../helpers/harness.js';

/**
 * What refreshes found (a conversation deleted by hand, a member who left on their own) is
 * remembered until a read that can be trusted says the group moved on: a read the guards distrust
 * (a source that lists no groups, a group that comes back empty) says nothing of it.
 */
describe('drift memory across a distrusted read (the real CLI)', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });
  const conv = (name: string) => [...h.wire.conversations.values()].find((c) => c.name === name)!;

  it('does not re-create a conversation deleted by hand after a source listed no groups for one run', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 4, users: 10 });
    h.writeConfig({ reconcile: { fullPlanEvery: '0s' } });
    expect((await h.cli(['sync'])).code).toBe(0);
    h.wire.conversations.delete(conv('Team ops').id);
    const gone = await h.cli(['sync', '--refresh']);
    expect(gone.stdout).toMatch(/deleted by hand; not created again/);

    // the IdP answers an empty listing for one run: the shrink guard trips (exit 3), nothing is gone
    const saved = [...h.directory.groups];
    for (const g of saved) h.scim.deleteGroup(g.id);
    const glitch = await h.cli(['sync']);
    expect(glitch.code, glitch.stdout + glitch.stderr).toBe(3);

    // the IdP is back
    for (const g of saved) h.scim.addGroup(g);
    const back = await h.cli(['sync']);
    expect(back.stdout).toMatch(/deleted by hand; not created again/);
    expect(wireState(h.wire, h.botId).has('Team ops')).toBe(false);
  });

  it('does not re-add a leaver after their group came back empty for one run (distrusted)', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 4, users: 4 });
    h.writeConfig({ reconcile: { fullPlanEvery: '0s' } });
    expect((await h.cli(['sync'])).code).toBe(0);
    const eng = h.directory.groups[0]!;
    const leaver = h.wireId(eng.members[0]!.value);
    conv('Team eng').members.delete(leaver);
    const refreshed = await h.cli(['sync', '--refresh']);
    expect(refreshed.stdout).toMatch(/left the conversation on their own/);

    // the group reads empty for one run: distrusted (suspect), its removals held
    const members = [...eng.members];
    for (const m of members) h.scim.removeMember(eng.id, m.value);
    const glitch = await h.cli(['sync']);
    expect(glitch.code, glitch.stdout).toBe(3);
    expect(wireState(h.wire, h.botId).get('Team eng')).toHaveLength(3);

    // the group is back as it was: the leaver never left the group
    for (const m of members) h.scim.addMember(eng.id, m.value);
    const back = await h.cli(['sync']);
    expect(back.code, back.stdout).toBe(0);
    expect(wireState(h.wire, h.botId).get('Team eng')).not.toContain(leaver);
  });
});
