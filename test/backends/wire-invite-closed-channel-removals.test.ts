import { afterEach, describe, expect, it } from 'vitest';
import { BOT_EMAIL, startHarness, type Harness } from '../helpers/harness.js';

/**
 * A channel whose access settings lack `invite` (changed by hand) refuses adds, not removals. When a
 * run has adds and removals for it together (one PUT …/members, v13+), the refused PUT must not take
 * the removals down with the adds: people who left the group still leave the channel.
 */
describe('wire: a channel closed to invites, with adds and removals in one run', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('still removes those who left the group', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 4, users: 10, wire: { features: { channels: true, mls: true } } });
    h.wire.users.get(h.botId)!.role = 'admin';
    h.writeConfig({
      backend: { type: 'wire', baseUrl: h.wire.url, email: BOT_EMAIL, passwordFile: './wire-password', teamId: h.wire.teamId, conversationType: 'channel' },
    });
    const made = await h.cli(['sync']);
    expect(made.code, made.stderr).toBe(0);
    const [channel] = [...h.wire.conversations.values()];
    expect(channel!.groupConvType).toBe('channel');
    const g = h.directory.groups[0]!;
    const leaving = g.members.slice(0, 2).map((m) => m.value);
    const joining = h.directory.users.find((u) => !g.members.some((m) => m.value === u.id))!;
    for (const id of leaving) h.scim.removeMember(g.id, id);
    h.scim.addMember(g.id, joining.id);
    for (const id of leaving) expect(channel!.members.has(h.wireId(id))).toBe(true);
    // closed to invites by hand
    channel!.access = ['private'];
    const res = await h.cli(['sync', '--output', 'json']);
    // before the fix: both still in the channel (the whole PUT failed as the conversation's, at every run);
    // before e184b83 they left (the PUT was retried op by op)
    for (const id of leaving) expect(channel!.members.has(h.wireId(id)), `${id} left the group`).toBe(false);
    // the add is refused (exit 1), the removals are not Wire's to refuse
    expect(channel!.members.has(h.wireId(joining.id))).toBe(false);
    expect(res.code).toBe(1);
  }, 60_000);
});
