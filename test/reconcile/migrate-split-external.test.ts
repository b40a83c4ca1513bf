import { afterEach, describe, expect, it } from 'vitest';
import { BOT_EMAIL, startHarness, type Harness } from '../helpers/harness.js';

/**
 * migrate-to-channels makes a channel with the old conversation's members, marking those added by
 * hand as `external` so that `remove: managed` leaves them. A channel is made empty and filled in
 * adds of at most 2000 (Wire's addBatch in channel mode); Reconciler.split (reconciler.ts ~250)
 * turns the members past the first 2000 into adds that drop `external`, so they are recorded as
 * added by convsync, and the next sync removes them: people removed who were never convsync's.
 */
describe('migrate-to-channels, a conversation larger than one add', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('keeps who was added by hand to the old conversation, past the first 2000 members too', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 3, users: 8, wire: { features: { channels: true, mls: true } } });
    expect((await h.cli(['sync'])).code).toBe(0);
    const old = [...h.wire.conversations.values()][0]!;
    const guests: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const g = h.wire.addUser({ name: `guest${i}` }).id;
      old.members.set(g, 'wire_member');
      guests.push(g);
    }
    h.wire.users.get(h.botId)!.role = 'admin';
    h.writeConfig({
      backend: { type: 'wire', baseUrl: h.wire.url, email: BOT_EMAIL, passwordFile: './wire-password', teamId: h.wire.teamId, conversationType: 'channel' },
    });
    const moved = await h.cli(['migrate-to-channels']);
    expect(moved.code, moved.stderr).toBe(0);
    const channel = () => [...h.wire.conversations.values()].find((c) => c.groupConvType === 'channel')!;
    expect(guests.filter((g) => !channel().members.has(g))).toEqual([]);
    const sync = await h.cli(['sync', '--output', 'json']);
    expect(sync.code, sync.stderr).toBe(0);
    // nobody added by hand is removed by the next sync (remove: managed)
    expect(guests.filter((g) => !channel().members.has(g))).toEqual([]);
  }, 120_000);
});
