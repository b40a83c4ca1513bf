import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * approveRun (2eaff42) finds a held removal in the fresh plan by conversation id and sends it under
 * the key the fresh plan names. When the conversation is to be bound again under a new key by that
 * same fresh plan (its group made again under a new id, no sync since), approve sends only the
 * removal, under a key no binding has yet: the op is refused ("no binding for ... any more") and
 * the approval is spent all the same.
 */
describe('approve a held removal before the rebind to a new key is applied', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('removes who the approved run held back', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 4, users: 8 });
    h.writeConfig({ guards: { maxRemovalsPerRun: 1, maxSourceShrink: 0.9 } });
    expect((await h.cli(['sync'])).code).toBe(0);
    const eng = h.directory.groups[0]!;
    for (const m of eng.members.slice(0, 2)) h.scim.removeMember(eng.id, m.value);
    const held = await h.cli(['sync']);
    expect(held.code, held.stdout).toBe(3);
    expect(h.chatState().get('Team eng')).toHaveLength(4);
    // eng made again under a new id, with the two who stayed; approved before any sync
    h.scim.deleteGroup(eng.id);
    h.scim.addGroup({ id: 'g-eng-again', displayName: eng.displayName, members: eng.members.slice(2) });
    const approved = await h.cli(['approve', '2']);
    expect(approved.code, approved.stderr + approved.stdout).toBe(0);
    expect(h.chatState().get('Team eng')).toHaveLength(2);
  });
});
