import { afterEach, describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/gateway-proxy.js';
import { BOT_EMAIL, startHarness, wireState, type Harness } from '../helpers/harness.js';

/** Changes made by hand on the chat side, found by `sync --refresh`, against the sandboxes. */
describe('drift', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  const conv = (name: string) => [...h.wire.conversations.values()].find((c) => c.name === name)!;

  it('records members added by hand and leavers, renames back, and remembers a conversation deleted by hand', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 4, users: 10 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const eng = h.directory.groups[0]!;
    const stranger = h.directory.users[9]!.externalId;
    const leaver = eng.members[0]!.value;
    conv('Team eng').members.set(stranger, 'wire_member');
    conv('Team eng').members.delete(h.wireId(leaver));
    conv('Team ops').name = 'Ops chat';

    // without a refresh, convsync does not know: nothing happens
    const blind = await h.cli(['sync']);
    expect(blind.stdout).toMatch(/no changes/);

    const res = await h.cli(['sync', '--refresh']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/Refreshed from the backend: 1 member\(s\) added by hand, 1 left, 1 renamed, 0 conversation\(s\) gone/);
    expect(res.stdout).toMatch(/left the conversation on their own/);
    const state = wireState(h.wire, h.botId);
    expect(state.get('Team eng')).toContain(stranger); // managed: someone added by hand stays
    expect(state.get('Team eng')).not.toContain(h.wireId(leaver)); // not added back
    expect(state.has('Team ops')).toBe(true); // renamed back to what the group says

    const status = await h.cli(['status']);
    expect(status.stdout).toMatch(/left +group:corp:g-00001/);
    expect(status.stdout).toMatch(/added +group:corp:g-00001/);

    // the leaver leaves the group, then joins it again: now they are added
    h.scim.removeMember(eng.id, leaver);
    expect((await h.cli(['sync'])).code).toBe(0);
    h.scim.addMember(eng.id, leaver);
    expect((await h.cli(['sync'])).code).toBe(0);
    expect(wireState(h.wire, h.botId).get('Team eng')).toContain(h.wireId(leaver));

    // authoritative: the member added by hand goes
    h.writeConfig({ mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}', remove: 'authoritative' }] });
    expect((await h.cli(['sync'])).code).toBe(0);
    expect(wireState(h.wire, h.botId).get('Team eng')).not.toContain(stranger);

    // deleted by hand: reported, unbound, not recreated…
    h.wire.conversations.delete(conv('Team ops').id);
    const gone = await h.cli(['sync', '--refresh']);
    expect(gone.code, gone.stderr).toBe(0);
    expect(gone.stdout).toMatch(/1 conversation\(s\) gone/);
    expect(gone.stdout).toMatch(/deleted by hand; not created again/);
    expect(wireState(h.wire, h.botId).has('Team ops')).toBe(false);
    const writes = h.wire.writeCalls().length;
    expect((await h.cli(['sync'])).code).toBe(0);
    expect(h.wire.writeCalls().length).toBe(writes);

    // …unless the mapping says so
    h.writeConfig({ mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}', recreateDeleted: true }] });
    expect((await h.cli(['sync'])).code).toBe(0);
    expect(wireState(h.wire, h.botId).get('Team ops')).toHaveLength(4);
  });

  it('refreshes by itself every drift.refreshEveryRuns runs, and re-adds leavers when readdLeavers is set', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 4, users: 4 });
    h.writeConfig({ drift: { refreshEveryRuns: 2 }, mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}', readdLeavers: true }] });
    expect((await h.cli(['sync'])).code).toBe(0);
    const leaver = h.wireId(h.directory.groups[0]!.members[0]!.value);
    conv('Team eng').members.delete(leaver);
    const second = await h.cli(['sync']);
    expect(second.stdout).toMatch(/Refreshed from the backend: 0 member\(s\) added by hand, 1 left/);
    expect(wireState(h.wire, h.botId).get('Team eng')).toContain(leaver);
  });

  it('lets go of a conversation Wire says convsync may no longer read, never of one a gateway refused', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 2, users: 4 });
    expect((await h.cli(['sync'])).code).toBe(0);
    // a bare 403 page in front of Wire, for every read of a conversation
    const proxy = await startProxy(h.wire.url, (m, p) =>
      m === 'GET' && /^\/v\d+\/conversations\/[^/]+\/[^/]+$/.test(p) ? { kind: 'fail', status: 403 } : { kind: 'pass' },
    );
    try {
      h.writeConfig({ backend: { type: 'wire', baseUrl: proxy.url, email: BOT_EMAIL, passwordFile: './wire-password', teamId: h.wire.teamId } });
      const refused = await h.cli(['sync', '--refresh']);
      expect(refused.stdout).toMatch(/0 conversation\(s\) gone/);
      expect((await h.cli(['status'])).stdout).toMatch(/^2 conversation\(s\) bound/);
    } finally {
      await proxy.stop();
    }
    // convsync taken out of one by hand: Wire answers access-denied, and it is let go
    h.writeConfig({});
    conv('Team ops').members.delete(h.botId);
    const denied = await h.cli(['sync', '--refresh']);
    expect(denied.stdout).toMatch(/1 conversation\(s\) gone/);
    expect((await h.cli(['status'])).stdout).toMatch(/^1 conversation\(s\) bound/);
  });
});
