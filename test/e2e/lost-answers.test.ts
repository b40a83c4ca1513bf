import { afterEach, describe, expect, it } from 'vitest';
import type { LoseRule } from '../../src/sandbox/lost-responses.js';
import { desiredState, startHarness, type Harness, type HarnessOptions } from '../helpers/harness.js';

type Backend = 'wire' | 'protocol' | 'mixin';

/** the sandbox of the backend under test */
function sandboxOf(h: Harness) {
  return h.backend === 'wire' ? h.wire : h.backend === 'mixin' ? h.mixin! : h.protocol!;
}

/** Protocol with a short request timeout, for answers that come too late */
function protocolWithTimeout(h: Harness, timeoutMs: number) {
  h.writeConfig({ backend: { type: 'protocol', baseUrl: h.protocol!.baseUrl, auth: { type: 'bearer', tokenFile: './protocol-token' }, timeoutMs } });
}

/**
 * The change is made, then its answer is lost (a gateway's 502/504, a dropped connection, an
 * answer slower than the client waits): the real CLI against each sandbox. Nothing is made twice.
 */
describe('a lost answer to a create never makes a second conversation', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  const cases: { backend: Backend; rule: LoseRule; timeoutMs?: number }[] = [
    { backend: 'wire', rule: { method: 'POST', path: /^\/v\d+\/conversations$/, as: 502 } },
    { backend: 'wire', rule: { method: 'POST', path: /^\/v\d+\/conversations$/, as: 'drop' } },
    { backend: 'wire', rule: { method: 'POST', path: /^\/v\d+\/conversations$/, as: 504, times: 3 } },
    { backend: 'protocol', rule: { method: 'POST', path: '/v1/groups', as: 504 } },
    { backend: 'protocol', rule: { method: 'POST', path: '/v1/groups', as: 'slow', delayMs: 1500 }, timeoutMs: 400 },
    { backend: 'protocol', rule: { method: 'POST', path: '/v1/groups', as: 'drop', times: 2 } },
    { backend: 'mixin', rule: { method: 'POST', path: '/conversations', as: 502 } },
    { backend: 'mixin', rule: { method: 'POST', path: '/conversations', as: 'drop', times: 2 } },
  ];
  for (const c of cases) {
    it(`${c.backend}: ${String(c.rule.as)} on ${c.rule.method} ${String(c.rule.path)} ×${c.rule.times ?? 1}`, async () => {
      h = await startHarness({ backend: c.backend, groups: 3, membersPerGroup: 3 });
      if (c.timeoutMs) protocolWithTimeout(h, c.timeoutMs);
      const sandbox = sandboxOf(h);
      sandbox.loseResponses(c.rule);
      const res = await h.cli(['sync']);
      expect(res.code, res.stderr).toBe(0);
      expect(sandbox.lost).toHaveLength(c.rule.times ?? 1);
      // chatState throws on two conversations of one name
      expect(h.chatState()).toEqual(desiredState(h.scim, h.chatId));
      const made = c.backend === 'wire' ? h.wire.conversations.size : c.backend === 'mixin' ? h.mixin!.conversations.size : h.protocol!.groups.size;
      expect(made).toBe(3);
      if (c.backend === 'protocol') expect([...h.protocol!.groups.values()].every((g) => g.conversation_id !== null)).toBe(true);
      expect(h.chatViolations()).toEqual([]);
      // nothing left pending, and a second run changes nothing
      const again = await h.cli(['sync', '--output', 'json']);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toMatch(/"ops": \[\]/);
    });
  }
});

const RATIO: Record<Backend, HarnessOptions> = {
  wire: { wire: { faults: { lostResponseRatio: 0.35 } } },
  protocol: { protocolFaults: { lostResponseRatio: 0.35 } },
  mixin: { mixinFaults: { lostResponseRatio: 0.35 } },
};

describe('every mutating route loses answers', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });
  for (const backend of ['wire', 'protocol', 'mixin'] as const) {
    it(`${backend}: creates, adds, removes, renames and removals of groups converge exactly, nothing twice`, async () => {
      h = await startHarness({ backend, groups: 12, membersPerGroup: 4, users: 40, ...RATIO[backend] });
      h.writeConfig({
        mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}', remove: 'managed', onGroupRemoved: backend === 'mixin' ? 'keep' : 'delete' }],
      });
      const first = await h.cli(['sync']);
      expect(first.code, first.stderr).toBe(0);
      expect(h.chatState()).toEqual(desiredState(h.scim, h.chatId));
      h.directory.groups.forEach((g, i) => {
        h.scim.removeMember(g.id, g.members[0]!.value);
        h.scim.addMember(g.id, h.directory.users[(i + 20) % 40]!.id);
        if (i % 3 === 0) h.scim.renameGroup(g.id, `${g.displayName}-renamed`);
      });
      for (const g of h.directory.groups.slice(10)) h.scim.deleteGroup(g.id);
      // the first delete's answer is lost for sure: the repeat finds it gone, which is done
      const deletion = backend === 'wire' ? /^\/v\d+\/teams\/[^/]+\/conversations\/[^/]+$/ : /^\/v1\/groups\/[^/]+$/;
      if (backend !== 'mixin') sandboxOf(h).loseResponses({ method: 'DELETE', path: deletion, as: 502 });
      const second = await h.cli(['sync']);
      expect(second.code, second.stderr).toBe(0);
      const state = h.chatState();
      const desired = desiredState(h.scim, h.chatId);
      for (const [name, members] of desired) expect(state.get(name), name).toEqual(members);
      expect(state.size).toBe(desired.size + (backend === 'mixin' ? 2 : 0));
      const lost = sandboxOf(h).lost;
      const routes = new Set(lost.map((l) => `${l.method} ${l.path.replace(/[0-9a-zA-Z-]{16,}/g, 'ID').replace(/\/ID\/ID/, '/ID')}`));
      expect(lost.length).toBeGreaterThan(5);
      if (backend !== 'mixin') expect(lost.some((l) => l.method === 'DELETE' && deletion.test(l.path))).toBe(true);
      expect(routes.size).toBeGreaterThanOrEqual(3);
      expect(h.chatViolations()).toEqual([]);
      const third = await h.cli(['sync', '--output', 'json']);
      expect(third.code, third.stderr).toBe(0);
      expect(third.stdout).toMatch(/"ops": \[\]/);
    }, 60_000);
  }
});
