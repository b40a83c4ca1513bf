import { afterEach, describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/gateway-proxy.js';
import { BOT_EMAIL, startHarness, type Harness } from '../helpers/harness.js';

/**
 * The refill of a channel whose fill failed (482764f) adds whoever the failed fill named, without
 * asking whether the directory still wants them: a group member removed from the group since is
 * added back to the channel by the next migrate-to-channels.
 */
describe('migrate-to-channels refill, a member removed from the group since', () => {
  let h: Harness;
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    await h?.close();
  });

  it('is not added back', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 3, users: 8, wire: { features: { channels: true, mls: true } } });
    expect((await h.cli(['sync'])).code).toBe(0);
    h.wire.users.get(h.botId)!.role = 'admin';
    let throttling = true;
    const proxy = await startProxy(h.wire.url, (method, path) =>
      throttling && method === 'POST' && /^\/v\d+\/conversations\/[^/]+\/[^/]+\/members$/.test(path) ? { kind: 'fail', status: 429 } : { kind: 'pass' },
    );
    stop = proxy.stop;
    h.writeConfig({
      backend: { type: 'wire', baseUrl: proxy.url, email: BOT_EMAIL, passwordFile: './wire-password', teamId: h.wire.teamId, conversationType: 'channel' },
      reconcile: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2, ratePerSecond: 1000, burst: 50, lostAnswerSettleMs: 0 },
    });
    expect((await h.cli(['migrate-to-channels'])).code).not.toBe(0);
    const channel = () => [...h.wire.conversations.values()].find((c) => c.groupConvType === 'channel')!;
    throttling = false;
    // one member leaves the group in the directory; a sync fills the channel with the others
    const group = h.directory.groups[0]!;
    const gone = group.members[0]!.value;
    h.scim.removeMember(group.id, gone);
    const sync = await h.cli(['sync']);
    expect(sync.code, sync.stderr).toBe(0);
    expect(channel().members.has(h.wireId(gone))).toBe(false);
    const again = await h.cli(['migrate-to-channels']);
    expect(again.code, again.stderr).toBe(0);
    expect(channel().members.has(h.wireId(gone)), 'a member removed from the group was added back').toBe(false);
  }, 60_000);
});
