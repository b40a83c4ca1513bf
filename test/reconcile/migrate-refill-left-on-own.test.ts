import { afterEach, describe, expect, it } from 'vitest';
import { BOT_EMAIL, startHarness, type Harness } from '../helpers/harness.js';

/**
 * The refill (482764f) takes a migrate fill "resolved after interruption" as unsure, even when the
 * recovery read it back as landed (its members recorded in the store). Someone it brought in who
 * leaves the channel on their own before a drift refresh records it is added back by the next
 * migrate-to-channels: "never one who left on their own" does not hold.
 */
describe('migrate-to-channels refill after a fill whose answer was lost but landed', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('does not add back who left the channel on their own', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 3, users: 8, wire: { features: { channels: true, mls: true } } });
    expect((await h.cli(['sync'])).code).toBe(0);
    const old = [...h.wire.conversations.values()][0]!;
    const guest = h.directory.users.find((u) => !old.members.has(u.externalId))!.externalId;
    old.members.set(guest, 'wire_member');
    h.wire.users.get(h.botId)!.role = 'admin';
    h.writeConfig({
      backend: { type: 'wire', baseUrl: h.wire.url, email: BOT_EMAIL, passwordFile: './wire-password', teamId: h.wire.teamId, conversationType: 'channel' },
      reconcile: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2, ratePerSecond: 1000, burst: 50, lostAnswerSettleMs: 0 },
    });
    // the fill lands, its every answer is lost: left pending
    h.wire.loseResponses({ method: 'POST', path: /^\/v\d+\/conversations\/[^/]+\/[^/]+\/members$/, times: 2, as: 502 });
    await h.cli(['migrate-to-channels']);
    const channel = () => [...h.wire.conversations.values()].find((c) => c.groupConvType === 'channel')!;
    expect(channel().members.has(guest)).toBe(true);
    expect(h.wire.lost).toHaveLength(2);
    // the next run resolves it (read back: landed)
    const second = await h.cli(['migrate-to-channels']);
    expect(second.code, second.stderr).toBe(0);
    // the guest leaves the channel on their own
    channel().members.delete(guest);
    const third = await h.cli(['migrate-to-channels']);
    expect(third.code, third.stderr).toBe(0);
    expect(channel().members.has(guest), 'who left on their own was added back').toBe(false);
  }, 60_000);
});
