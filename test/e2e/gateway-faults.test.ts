import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/gateway-proxy.js';
import { BOT_EMAIL, startHarness, type Harness } from '../helpers/harness.js';

/**
 * What a gateway in front of the backend does that a sandbox does not: the change committed after
 * the client gave up, a 502 that never reached the backend, a 2xx whose body is garbled. The real
 * CLI against the sandboxes behind a proxy; nothing is ever made twice, nothing a person made is
 * taken over.
 */
describe('gateway faults', () => {
  let h: Harness;
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
    await h?.close();
  });
  const protocolVia = (url: string, extra: Record<string, unknown> = {}) => ({
    backend: { type: 'protocol', baseUrl: `${url}/v1`, auth: { type: 'bearer', tokenFile: './protocol-token' }, ...extra },
  });

  it('protocol: a create the backend commits after the client gave up is never sent twice; the next run after it landed adopts it', async () => {
    h = await startHarness({ backend: 'protocol', groups: 1, membersPerGroup: 2 });
    const proxy = await startProxy(h.protocol!.url, (m, p) => (m === 'POST' && p === '/v1/groups' ? { kind: 'late', delayMs: 3000 } : { kind: 'pass' }));
    stop = proxy.stop;
    h.writeConfig({ ...protocolVia(proxy.url, { timeoutMs: 300 }), reconcile: { baseDelayMs: 5, maxDelayMs: 20, lostAnswerSettleMs: 20_000 } });
    const first = await h.cli(['sync']);
    expect(first.code).toBe(1);
    expect(first.stdout).toMatch(/answer lost .*left pending/);
    // before the late POST lands: the create is still in flight, so it is not planned again
    const second = await h.cli(['sync', '--output', 'json']);
    expect(second.stdout).toMatch(/still looked for: not made a second time/);
    await sleep(3500);
    const third = await h.cli(['sync']);
    expect(third.code, third.stderr).toBe(0);
    expect([...h.protocol!.groups.values()].map((g) => g.name)).toEqual(['Team eng']);
    expect(proxy.log.filter((l) => l.startsWith('POST /v1/groups'))).toHaveLength(1);
  }, 40_000);

  it('a 2xx with a garbled body is a create made, looked for and adopted, on every backend', async () => {
    for (const backend of ['wire', 'protocol', 'mixin'] as const) {
      h = await startHarness({ backend, groups: 1, membersPerGroup: 2 });
      const target = backend === 'wire' ? h.wire.url : backend === 'mixin' ? h.mixin!.url : h.protocol!.url;
      const create = backend === 'wire' ? /^\/v\d+\/conversations$/ : backend === 'mixin' ? /^\/conversations$/ : /^\/v1\/groups$/;
      let n = 0;
      const proxy = await startProxy(target, (m, p) =>
        m === 'POST' && create.test(p) && n++ === 0 ? { kind: 'mangle', body: () => '{"data":{"garbled":1},"qualified_id":{"id":"x"}}' } : { kind: 'pass' },
      );
      stop = proxy.stop;
      if (backend === 'wire')
        h.writeConfig({ backend: { type: 'wire', baseUrl: proxy.url, email: BOT_EMAIL, passwordFile: './wire-password', teamId: h.wire.teamId } });
      else if (backend === 'mixin') h.writeConfig({ backend: { type: 'mixin', baseUrl: proxy.url, keystoreFile: './mixin-keystore.json' } });
      else h.writeConfig(protocolVia(proxy.url));
      const first = await h.cli(['sync']);
      expect(first.code, `${backend}: ${first.stdout}`).toBe(0);
      expect((await h.cli(['sync'])).code).toBe(0);
      expect([...h.chatState().keys()], backend).toEqual(['Team eng']);
      await stop();
      stop = undefined;
      await h.close();
    }
  }, 60_000);

  it('protocol: a group made, its conversation refused: the group is kept, never made twice', async () => {
    h = await startHarness({ backend: 'protocol', groups: 1, membersPerGroup: 2 });
    const proxy = await startProxy(h.protocol!.url, (m, p) => {
      if (m === 'POST' && p === '/v1/groups') return { kind: 'mangle', body: (t) => JSON.stringify({ ...(JSON.parse(t) as object), conversation_id: null }) };
      if (m === 'POST' && p === '/v1/conversations') return { kind: 'fail', status: 409 };
      return { kind: 'pass' };
    });
    stop = proxy.stop;
    h.writeConfig(protocolVia(proxy.url));
    expect((await h.cli(['sync'])).code).toBe(0);
    expect((await h.cli(['sync'])).code).toBe(0);
    expect([...h.protocol!.groups.values()].map((g) => g.name)).toEqual(['Team eng']);
  }, 30_000);

  it('protocol: a lost create never takes over a group a person made with the same name', async () => {
    h = await startHarness({ backend: 'protocol', groups: 1, membersPerGroup: 2, users: 4 });
    const made = await request(`${h.protocol!.baseUrl}/groups`, {
      method: 'POST',
      headers: { authorization: 'Bearer harness-protocol-token', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Team eng', description: 'managed by convsync', contacts: [] }),
    });
    const personal = ((await made.body.json()) as { id: string }).id;
    let n = 0;
    // the gateway fails before reaching the API: convsync made nothing
    const proxy = await startProxy(h.protocol!.url, (m, p) =>
      m === 'POST' && p === '/v1/groups' && n++ === 0 ? { kind: 'fail', status: 502 } : { kind: 'pass' },
    );
    stop = proxy.stop;
    h.writeConfig(protocolVia(proxy.url));
    expect((await h.cli(['sync'])).code).toBe(1);
    expect((await h.cli(['sync'])).code).toBe(0);
    expect(h.protocol!.groups.get(personal)!.contacts).toEqual([]);
    expect([...h.protocol!.groups.values()].filter((g) => g.name === 'Team eng')).toHaveLength(2);
  }, 30_000);

  it('wire: two groups with one conversation name, one create lost at the gateway: each conversation holds its own group', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 3, users: 8 });
    const users = h.directory.users;
    h.scim.addGroup({ id: 'g-twin', displayName: 'team-eng', members: users.slice(5, 8).map((u) => ({ value: u.id, type: 'User' as const })) });
    let n = 0;
    const proxy = await startProxy(h.wire.url, (m, p) =>
      m === 'POST' && /^\/v\d+\/conversations$/.test(p) && n++ === 0 ? { kind: 'fail', status: 502 } : { kind: 'pass' },
    );
    stop = proxy.stop;
    h.wire.loseResponses({ method: 'POST', path: /^\/v\d+\/conversations$/, as: 'slow', delayMs: 1500 });
    h.writeConfig({ backend: { type: 'wire', baseUrl: proxy.url, email: BOT_EMAIL, passwordFile: './wire-password', teamId: h.wire.teamId } });
    await h.cli(['sync']);
    expect((await h.cli(['sync'])).code).toBe(0);
    const convs = [...h.wire.conversations.values()].filter((c) => c.members.has(h.botId));
    expect(convs).toHaveLength(2);
    const twin = new Set(users.slice(5, 8).map((u) => h.wireId(u.id)));
    for (const c of convs) {
      const ms = [...c.members.keys()].filter((m) => m !== h.botId);
      expect(ms.every((m) => twin.has(m)) || ms.every((m) => !twin.has(m)), `conversation ${c.id} mixes both groups`).toBe(true);
    }
  }, 30_000);
});
