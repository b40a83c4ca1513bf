import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * DESIGN §4: "One bad user never blocks a conversation: users the backend refuses are isolated and
 * reported." Protocol sets a group's whole contact list in one call and rejects the call for one
 * unknown contact id (400 invalid_request). A contact deleted on Protocol whose handle → id is still
 * in the identity cache (identity.cacheTtlHours, 24 h by default) makes every group create (and
 * every member PUT that adds them) fail as a whole, for everyone in it.
 */
describe('Protocol: a contact deleted since it was looked up', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('does not keep a new conversation from being made for the others', async () => {
    h = await startHarness({ backend: 'protocol', groups: 1, membersPerGroup: 3, users: 8 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const p = h.protocol!;
    const [gone, other] = h.directory.groups[0]!.members.map((m) => m.value);
    // the contact is deleted on Protocol (DELETE /v1/contacts/:id also takes it out of its groups)
    const goneId = h.chatId(gone!);
    p.contacts.delete(goneId);
    for (const g of p.groups.values()) g.contacts = g.contacts.filter((c) => c !== goneId);
    h.scim.addGroup({
      id: 'g-new',
      displayName: 'team-new',
      members: [
        { value: gone!, type: 'User' },
        { value: other!, type: 'User' },
      ],
    });
    const sync = await h.cli(['sync', '--output', 'json']);
    const made = [...p.groups.values()].find((g) => g.name === 'Team new');
    expect(made, sync.stdout.slice(0, 3000)).toBeDefined();
    expect(made!.contacts).toEqual([h.chatId(other!)]);
    expect(sync.stdout).toContain(goneId);
  }, 30_000);

  it('does not keep the others of a change to an existing group from being added', async () => {
    h = await startHarness({ backend: 'protocol', groups: 2, membersPerGroup: 3, users: 8 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const p = h.protocol!;
    const [a, b] = h.directory.groups;
    const gone = a!.members[0]!.value;
    const goneId = h.chatId(gone);
    p.contacts.delete(goneId);
    for (const g of p.groups.values()) g.contacts = g.contacts.filter((c) => c !== goneId);
    const fresh = h.directory.users.find((u) => !b!.members.some((m) => m.value === u.id) && u.id !== gone)!.id;
    h.scim.addMember(b!.id, gone);
    h.scim.addMember(b!.id, fresh);
    const sync = await h.cli(['sync', '--output', 'json']);
    const group = [...p.groups.values()].find((g) => g.name === `Team ${b!.displayName.replace(/^team-/, '')}`)!;
    expect(group.contacts, sync.stdout.slice(0, 3000)).toContain(h.chatId(fresh));
    expect(group.contacts).not.toContain(goneId);

    // made again by hand under a new id: looked up again at the next run, not held back as refused for a day
    const user = h.directory.users.find((u) => u.id === gone)!;
    const again = p.addContact({ username: user.userName, phone_number: '+4930000000' }).id;
    const next = await h.cli(['sync', '--output', 'json']);
    expect(next.code, next.stderr).toBe(0);
    expect(group.contacts).toContain(again);
    expect(group.contacts).not.toContain(goneId);
  }, 30_000);
});
