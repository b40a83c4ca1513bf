import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * A member change whose answer is lost on every attempt may have been made: it stays pending and
 * is read back before the next plan, never recorded as failed, which a refresh would then take
 * for people added or gone by hand.
 */
const FAST = { baseDelayMs: 5, maxDelayMs: 20, ratePerSecond: 1000, burst: 50, lostAnswerSettleMs: 0, maxAttempts: 3 };

describe('member changes whose every answer is lost (the real CLI against each sandbox)', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  for (const backend of ['wire', 'protocol', 'mixin'] as const) {
    it(`${backend}: someone convsync added (every answer lost) is removed once they leave the group`, async () => {
      h = await startHarness({ backend, groups: 1, membersPerGroup: 3, users: 8 });
      h.writeConfig({ reconcile: FAST });
      expect((await h.cli(['sync'])).code).toBe(0);
      const g = h.directory.groups[0]!;
      const name = [...h.chatState().keys()][0]!;
      const newcomer = h.directory.users.find((u) => !g.members.some((m) => m.value === u.id))!;
      h.scim.addMember(g.id, newcomer.id);
      const route =
        backend === 'wire'
          ? { method: 'POST', path: /^\/v\d+\/conversations\/[^/]+\/[^/]+\/members$/ }
          : backend === 'mixin'
            ? { method: 'POST', path: /^\/conversations\/[^/]+\/participants\/ADD$/ }
            : { method: 'PUT', path: /^\/v1\/groups\/[^/]+$/ };
      const sandbox = backend === 'wire' ? h.wire : backend === 'mixin' ? h.mixin! : h.protocol!;
      sandbox.loseResponses({ ...route, as: 502, times: 3 });
      await h.cli(['sync']);
      expect(h.chatState().get(name)).toContain(h.chatId(newcomer.id));
      // Wire's add is sent again (each answer lost); Protocol and Mixin read first and find it made
      expect(sandbox.lost.length).toBe(backend === 'wire' ? 3 : 1);
      const refreshed = await h.cli(['sync', '--refresh']);
      expect(refreshed.code, refreshed.stderr).toBe(0);
      h.scim.removeMember(g.id, newcomer.id);
      const left = await h.cli(['sync']);
      expect(left.code, left.stderr).toBe(0);
      expect(h.chatState().get(name)).not.toContain(h.chatId(newcomer.id));
    }, 60_000);
  }

  it('wire: someone convsync removed (every answer lost) who comes back to the group is added again', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 3, users: 8 });
    h.writeConfig({ reconcile: FAST });
    expect((await h.cli(['sync'])).code).toBe(0);
    const g = h.directory.groups[0]!;
    const name = [...h.chatState().keys()][0]!;
    const member = g.members[0]!.value;
    h.scim.removeMember(g.id, member);
    h.wire.loseResponses({ method: 'DELETE', path: /^\/v\d+\/conversations\/.+\/members\/.+$/, as: 504, times: 3 });
    const lost = await h.cli(['sync']);
    expect(lost.code).toBe(1);
    expect(lost.stderr).toMatch(/answer lost .*left pending, the conversation is read back before the next plan/);
    expect(h.chatState().get(name)).not.toContain(h.wireId(member));
    expect((await h.cli(['status'])).stdout).toMatch(/Pending ops: 1 /);
    h.scim.addMember(g.id, member);
    for (const args of [['sync'], ['sync', '--refresh'], ['sync']]) {
      const res = await h.cli(args);
      expect(res.code, res.stderr).toBe(0);
    }
    expect(h.chatState().get(name)).toContain(h.wireId(member));
  }, 60_000);
});
