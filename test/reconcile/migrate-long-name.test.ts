import { afterEach, describe, expect, it } from 'vitest';
import { BOT_EMAIL, startHarness, type Harness } from '../helpers/harness.js';

/** `migrate-to-channels --old rename` on a name near Wire's limit: the old one's new name still fits */
describe('migrate-to-channels --old rename, a long name', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('cuts the old name so that it and " (moved)" fit in 256 characters, and makes the channel under the full name', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 2, users: 4, wire: { features: { channels: true, mls: true } } });
    // 254 characters, one of them outside the BMP (Wire counts characters, not UTF-16 units)
    const long = `${'N'.repeat(253)}🙂`;
    h.writeConfig({ mappings: [{ match: { displayName: '^team-(.+)$' }, name: long }] });
    expect((await h.cli(['sync'])).code).toBe(0);
    const [old] = [...h.wire.conversations.values()];
    const name = old!.name!;
    expect([...name].length).toBe(254);
    h.wire.users.get(h.botId)!.role = 'admin';
    h.writeConfig({
      mappings: [{ match: { displayName: '^team-(.+)$' }, name: long }],
      backend: { type: 'wire', baseUrl: h.wire.url, email: BOT_EMAIL, passwordFile: './wire-password', teamId: h.wire.teamId, conversationType: 'channel' },
    });
    const moved = await h.cli(['migrate-to-channels', '--old', 'rename', '--output', 'json']);
    expect(moved.code, moved.stderr + moved.stdout).toBe(0);
    const renamed = h.wire.conversations.get(old!.id)!.name!;
    expect([...renamed].length).toBe(256);
    expect(renamed).toBe(`${[...name].slice(0, 248).join('')} (moved)`);
    const channel = [...h.wire.conversations.values()].find((c) => c.id !== old!.id)!;
    expect(channel.name).toBe(name);
    // the next sync has nothing to rename: the channel has the name the mapping gives
    const next = await h.cli(['sync', '--output', 'json']);
    expect(next.code, next.stderr).toBe(0);
    expect(JSON.parse(next.stdout).plan.summary.rename ?? 0).toBe(0);
  }, 60_000);
});
