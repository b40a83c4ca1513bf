import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { BOT_EMAIL, startCli, startHarness, type Harness } from '../helpers/harness.js';

/**
 * migrate-to-channels --old rename, stopped after the rename of a long-named conversation and before
 * its channel was made (here: the channels feature turned off in between), then run again: the
 * channel must get the mapping's full name, not the old conversation's name as cut for " (moved)".
 */
describe('migrate-to-channels --old rename, a long name, run again after the rename', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('makes the channel under the full name', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 2, users: 4, wire: { features: { channels: true, mls: true } } });
    const long = 'N'.repeat(254);
    h.writeConfig({ mappings: [{ match: { displayName: '^team-(.+)$' }, name: long }] });
    expect((await h.cli(['sync'])).code).toBe(0);
    const [old] = [...h.wire.conversations.values()];
    const name = old!.name!;
    h.wire.users.get(h.botId)!.role = 'admin';
    h.writeConfig({
      mappings: [{ match: { displayName: '^team-(.+)$' }, name: long }],
      backend: { type: 'wire', baseUrl: h.wire.url, email: BOT_EMAIL, passwordFile: './wire-password', teamId: h.wire.teamId, conversationType: 'channel' },
    });
    // the first run renames the old conversation; its channel's create then fails (the feature turned off meanwhile)
    h.wire.faults.latencyMs = 300;
    const first = startCli(['migrate-to-channels', '--old', 'rename', '--output', 'json', '--config', h.configFile]);
    const renamed = () => h.wire.calls.some((c) => c.method === 'PUT' && c.path.endsWith('/name') && c.status < 300);
    for (let i = 0; i < 2000 && !renamed(); i++) await sleep(5);
    h.wire.features.channels = false;
    const r1 = await first.done;
    expect(r1.code, r1.stderr + r1.stdout).not.toBe(0);
    expect(h.wire.conversations.get(old!.id)!.name).toBe(`${'N'.repeat(248)} (moved)`);
    expect(h.wire.conversations.size).toBe(1);
    // turned on again: the migration is run again
    h.wire.faults.latencyMs = 0;
    h.wire.features.channels = true;
    const again = await h.cli(['migrate-to-channels', '--old', 'rename', '--output', 'json']);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    const channel = [...h.wire.conversations.values()].find((c) => c.id !== old!.id)!;
    // before the fix: 'N' x 248, the old conversation's cut name
    expect([...channel.name!].length).toBe(254);
    expect(channel.name).toBe(name);
  }, 60_000);
});
