import { afterEach, describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/gateway-proxy.js';
import { BOT_EMAIL, startCli, startHarness, until, type Harness } from '../helpers/harness.js';

/**
 * migrate-to-channels killed while its fill of the new channel is in flight and never reaches Wire
 * (held by a gateway, or the process killed before it went out). The next run resolves the pending
 * add by reading the channel back (nobody there: recorded as done with nobody), then finds a
 * channel and moves nothing; a sync adds only the group's members. Who had been added by hand to
 * the old conversation is never brought in (crash-adoption.test.ts covers only a fill that landed).
 */
describe('migrate-to-channels killed during a fill that never landed', () => {
  let h: Harness;
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    await h?.close();
  });

  it('the next runs still bring in who was in the old conversation by hand', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 3, users: 8, wire: { features: { channels: true, mls: true } } });
    expect((await h.cli(['sync'])).code).toBe(0);
    const old = [...h.wire.conversations.values()][0]!;
    const guest = h.directory.users.find((u) => !old.members.has(u.externalId))!.externalId;
    old.members.set(guest, 'wire_member');
    h.wire.users.get(h.botId)!.role = 'admin';
    let hold = true;
    let held = 0;
    const proxy = await startProxy(h.wire.url, (method, path) => {
      if (hold && method === 'POST' && /^\/v\d+\/conversations\/[^/]+\/[^/]+\/members$/.test(path)) {
        held++;
        // a gateway that never gets it through: answered with a 504 long after the client is gone, nothing applied
        return { kind: 'fail', status: 504 };
      }
      return { kind: 'pass' };
    });
    stop = proxy.stop;
    const config = (url: string) =>
      h.writeConfig({
        backend: { type: 'wire', baseUrl: url, email: BOT_EMAIL, passwordFile: './wire-password', teamId: h.wire.teamId, conversationType: 'channel' },
        // retried for long enough to be killed in between
        reconcile: { baseDelayMs: 5000, maxDelayMs: 5000, maxAttempts: 20, ratePerSecond: 1000, burst: 50, lostAnswerSettleMs: 0 },
      });
    config(proxy.url);
    const run = startCli(['migrate-to-channels', '--config', h.configFile]);
    await until(() => held > 0, 'the fill is sent');
    run.child.kill('SIGKILL');
    await run.done;
    hold = false;
    const channel = () => [...h.wire.conversations.values()].find((c) => c.groupConvType === 'channel')!;
    expect(channel().members.has(guest)).toBe(false);
    const again = await h.cli(['migrate-to-channels']);
    expect(again.code, again.stderr).toBe(0);
    const sync = await h.cli(['sync']);
    expect(sync.code, sync.stderr).toBe(0);
    expect([...h.wire.conversations.values()].filter((c) => c.groupConvType === 'channel')).toHaveLength(1);
    expect(channel().members.has(guest)).toBe(true);
  }, 60_000);
});
