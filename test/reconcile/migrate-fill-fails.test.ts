import { afterEach, describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/gateway-proxy.js';
import { BOT_EMAIL, startHarness, type Harness } from '../helpers/harness.js';

/**
 * migrate-to-channels: the channel is made empty, then filled with the old conversation's members.
 * When that fill fails (throttled past its retries, nothing applied), the binding has already moved
 * to the channel; a second migrate-to-channels finds a channel and moves nothing, and a sync adds
 * only the group's members: who had been added by hand to the old conversation is never brought
 * in. "A second run moves only what is left" (migrate.ts) does not hold for the members.
 */
describe('migrate-to-channels, the fill of the new channel fails', () => {
  let h: Harness;
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    await h?.close();
  });

  it('a second run (or the next sync) still brings in who was in the old conversation by hand', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 3, users: 8, wire: { features: { channels: true, mls: true } } });
    expect((await h.cli(['sync'])).code).toBe(0);
    const old = [...h.wire.conversations.values()][0]!;
    const guest = h.directory.users.find((u) => !old.members.has(u.externalId))!.externalId;
    old.members.set(guest, 'wire_member');
    h.wire.users.get(h.botId)!.role = 'admin';
    // every member add is throttled during the first migration (nothing applied), then all passes
    let throttling = true;
    const proxy = await startProxy(h.wire.url, (method, path) =>
      throttling && method === 'POST' && /^\/v\d+\/conversations\/[^/]+\/[^/]+\/members$/.test(path) ? { kind: 'fail', status: 429 } : { kind: 'pass' },
    );
    stop = proxy.stop;
    h.writeConfig({
      backend: { type: 'wire', baseUrl: proxy.url, email: BOT_EMAIL, passwordFile: './wire-password', teamId: h.wire.teamId, conversationType: 'channel' },
      reconcile: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2, ratePerSecond: 1000, burst: 50, lostAnswerSettleMs: 0 },
    });
    const first = await h.cli(['migrate-to-channels']);
    expect(first.code).not.toBe(0);
    const channel = () => [...h.wire.conversations.values()].find((c) => c.groupConvType === 'channel')!;
    expect(channel().members.has(guest)).toBe(false);
    throttling = false;
    const again = await h.cli(['migrate-to-channels']);
    expect(again.code, again.stderr).toBe(0);
    const sync = await h.cli(['sync']);
    expect(sync.code, sync.stderr).toBe(0);
    expect([...h.wire.conversations.values()].filter((c) => c.groupConvType === 'channel')).toHaveLength(1);
    expect(channel().members.has(guest)).toBe(true);
  }, 60_000);
});
