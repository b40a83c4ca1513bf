import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { protocolBackend } from '../../src/backends/protocol/index.js';
import { wireBackend } from '../../src/backends/wire/index.js';
import { SplitCallsError } from '../../src/errors.js';
import type { ProtocolBackendConfig, WireBackendConfig } from '../../src/config/schema.js';
import { ProtocolSandbox } from '../../src/sandbox/protocol/server.js';
import { WireSandbox, type WireSandboxOptions } from '../../src/sandbox/wire/server.js';
import { startProxy } from '../helpers/gateway-proxy.js';
import { rawCall } from '../helpers/raw-http.js';

/** Fidelity of the chat fakes to the reference, and what the adapters do with the real answers. */

const logger = pino({ level: 'silent' });
let wire: WireSandbox | undefined;
let proto: ProtocolSandbox | undefined;
let proxy: { stop(): Promise<void> } | undefined;
afterEach(async () => {
  await wire?.stop();
  await proto?.stop();
  await proxy?.stop();
  wire = proto = proxy = undefined;
});

function wireConfig(baseUrl: string, extra: Partial<WireBackendConfig> = {}): WireBackendConfig {
  return {
    type: 'wire',
    conversationType: 'group',
    baseUrl,
    email: 'bot@example.com',
    password: 'bot-password',
    label: 'convsync',
    maxConversationSize: 500,
    apiVersions: { min: 6, max: 15 },
    ...extra,
  };
}

async function wireWith(opts: WireSandboxOptions = {}, role: 'member' | 'admin' = 'member') {
  wire = await WireSandbox.start(opts);
  const bot = wire.addUser({ email: 'bot@example.com', password: 'bot-password', role, handle: 'convsync-bot' });
  return { w: wire, bot };
}

async function token(w: WireSandbox): Promise<string> {
  const res = await rawCall(w.url, 'POST', '/v15/login', { email: 'bot@example.com', password: 'bot-password' }, null);
  return res.json.access_token as string;
}

describe('Wire: POST /list-users with handles Wire cannot parse', () => {
  // wire-api.md §2.0 (line 137): "A malformed or invalid JSON body, a value outside a Range in the
  // schema, or a missing required key gives 400 bad-request". A Handle is parsed by
  // wire-server libs/types-common/src/Data/Handle.hs: 2..256 of [a-z0-9_.-], else "Invalid handle".
  it('the fake refuses the whole call (400 bad-request), as Wire does', async () => {
    const { w } = await wireWith();
    w.addUser({ handle: 'alice' });
    const t = await token(w);
    for (const handle of ['alice@example.com', 'Alice', 'a', 'john doe']) {
      const res = await rawCall(
        w.url,
        'POST',
        '/v15/list-users',
        {
          qualified_handles: [
            { handle: 'alice', domain: w.domain },
            { handle, domain: w.domain },
          ],
        },
        t,
      );
      expect({ handle, status: res.status, label: res.json?.label }).toEqual({ handle, status: 400, label: 'bad-request' });
    }
  });

  it('the adapter answers null for a handle Wire cannot parse, and finds the others in the same batch', async () => {
    const { w } = await wireWith();
    const alice = w.addUser({ handle: 'alice' });
    const backend = wireBackend.create(wireConfig(w.url), { logger });
    const found = await backend.lookupHandles!(['alice', 'alice@example.com', 'x', 'bob smith']);
    expect(Object.fromEntries(found)).toEqual({ alice: alice.id, 'alice@example.com': null, x: null, 'bob smith': null });
    expect(w.violations).toEqual([]);
  });
});

describe('Wire: mutating credential routes can lose their answer', () => {
  // POST /login creates a cookie and revokes the user's other cookies with the same label
  // (wire-api.md §2.2, line 163); POST /access/logout revokes the cookie (§2.4, line 191).
  it('POST /login: applied (new cookie, same-label cookie revoked), answer lost as 502', async () => {
    const { w } = await wireWith();
    await token(w);
    w.loseResponses({ method: 'POST', path: '/v15/login', as: 502 });
    const res = await rawCall(w.url, 'POST', '/v15/login', { email: 'bot@example.com', password: 'bot-password' }, null);
    expect(res.status).toBe(502);
    expect(w.lost).toHaveLength(1);
  });

  it('POST /access/logout: applied, answer dropped', async () => {
    const { w } = await wireWith();
    const login = await rawCall(w.url, 'POST', '/v15/login?persist=true', { email: 'bot@example.com', password: 'bot-password' }, null);
    const cookie = /zuid=([^;]+)/.exec(String(login.headers['set-cookie']))![1]!;
    w.loseResponses({ path: '/access/logout', as: 'drop' });
    const res = await rawCall(w.url, 'POST', '/access/logout', undefined, login.json.access_token, { cookie: `zuid=${cookie}` });
    expect(res.status).toBe(0);
    const again = await rawCall(w.url, 'POST', '/access', undefined, null, { cookie: `zuid=${cookie}` });
    expect(again.status).toBe(403); // the logout was applied
  });
});

describe('Wire: the edge refuses bodies over 512k (413)', () => {
  // wire-api.md §4.1 (line 432): "Body size at the edge | 512k default | 413 from nginx"
  it('the fake answers 413 to a body over 512 KiB', async () => {
    const { w } = await wireWith({ features: { channels: true, mls: true } }, 'admin');
    const t = await token(w);
    const ids = Array.from({ length: 8000 }, () => ({ id: w.addUser({}).id, domain: w.domain }));
    const c = await rawCall(w.url, 'POST', '/v15/conversations', { name: 'g', qualified_users: [], team: { teamid: w.teamId, managed: false } }, t);
    const res = await rawCall(w.url, 'POST', `/v15/conversations/${w.domain}/${c.json.qualified_id.id}/members`, { qualified_users: ids }, t);
    expect(res.status).toBe(413);
  });

  it("the adapter's channel PUT …/members stays within it for a large channel", async () => {
    const { w, bot } = await wireWith({ features: { channels: true, mls: true } }, 'admin');
    const people = Array.from({ length: 7600 }, () => w.addUser({}).id);
    const backend = wireBackend.create(wireConfig(w.url, { conversationType: 'channel' }), { logger });
    await backend.whoami();
    const made = await backend.create({ name: 'all staff', members: [] });
    // members the channel already has (e.g. through a user group)
    const c = w.conversations.get(made.id)!;
    for (const p of people.slice(0, 7500)) c.members.set(p, 'wire_member');
    // too large for one PUT: nothing is sent, the reconciler sends the ops one by one
    await expect(backend.updateConversation!(made.id, { add: people.slice(7500), remove: people.slice(0, 3) })).rejects.toBeInstanceOf(SplitCallsError);
    expect(c.members.has(people[0]!)).toBe(true);
    expect(c.members.has(bot.id)).toBe(true);
    expect(w.calls.filter((x) => x.status === 413 || x.method === 'PUT' || x.method === 'DELETE')).toEqual([]);
  });
});

describe('Protocol: a DELETE answered 404 by something in front of the API', () => {
  it('is not taken as "already gone"', async () => {
    proto = await ProtocolSandbox.start({ token: 't0ken' });
    const p = proto;
    const contact = p.addContact({ username: 'c0' });
    const gateway = await startProxy(p.url, (method) => (method === 'DELETE' ? { kind: 'fail', status: 404 } : { kind: 'pass' }));
    proxy = gateway;
    const config = {
      type: 'protocol',
      baseUrl: `${gateway.url}/v1`,
      auth: { type: 'bearer', token: 't0ken' },
      contacts: { matchOn: 'username', create: false },
      timeoutMs: 2000,
    } as ProtocolBackendConfig;
    const backend = protocolBackend.create(config, { logger });
    const g = await backend.create({ name: 'g', members: [contact.id] });
    // the group is still there, so the delete must not report success
    await expect(backend.delete!(g.id)).rejects.toThrow();
    expect(p.groups.has(g.id)).toBe(true);
  });
});
