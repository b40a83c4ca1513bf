import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { MockAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { wireBackend } from '../../src/backends/wire/index.js';
import type { WireBackendConfig } from '../../src/config/schema.js';
import { AuthError, CapacityError, PermanentError, TransientError } from '../../src/errors.js';
import { WireSandbox, type WireSandboxOptions } from '../../src/sandbox/wire/server.js';

const logger = pino({ level: 'silent' });
let wire: WireSandbox | undefined;
afterEach(async () => {
  await wire?.stop();
  wire = undefined;
});

function config(baseUrl: string, extra: Partial<WireBackendConfig> = {}): WireBackendConfig {
  return {
    type: 'wire',
    conversationType: 'group',
    baseUrl,
    email: 'bot@example.com',
    password: 'bot-password',
    label: 'convsync',
    maxConversationSize: 500,
    apiVersions: { min: 6, max: 9 },
    ...extra,
  };
}

async function setup(opts: WireSandboxOptions = {}, extra: Partial<WireBackendConfig> = {}) {
  wire = await WireSandbox.start(opts);
  const bot = wire.addUser({ email: 'bot@example.com', password: 'bot-password' });
  const people = Array.from({ length: 6 }, (_, i) => wire!.addUser({ name: `p${i}` }).id);
  const backend = wireBackend.create(config(wire.url, extra), { logger });
  return { wire, bot, people, backend };
}

const paths = (w: WireSandbox) => w.calls.map((c) => `${c.status} ${c.method} ${c.path}`);

describe('Wire backend against the Wire sandbox', () => {
  it('negotiates the highest stable version within v6–v9', async () => {
    const { wire: w, backend } = await setup({ supported: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], development: [11] });
    await backend.whoami();
    expect(w.calls.find((c) => c.path.endsWith('/self'))!.path).toBe('/v9/self');
    await w.stop();

    // a backend that still announces its development version among "supported"
    const { wire: w2, backend: b2 } = await setup({ supported: [5, 6, 7, 8], development: [8] });
    await b2.whoami();
    expect(w2.calls.find((c) => c.path.endsWith('/self'))!.path).toBe('/v7/self');
    await w2.stop();

    const { backend: old } = await setup({ supported: [3, 4, 5], development: [] });
    await expect(old.whoami()).rejects.toThrow(/supports API versions \[3, 4, 5\], none within v6–v9/);
  });

  it('logs in with persist=true and its label, and creates proteus team conversations with wire_member invitees', async () => {
    const { wire: w, bot, people, backend } = await setup();
    const me = await backend.whoami();
    expect(me.userId).toBe(bot.id);
    expect(w.logins).toEqual([{ persist: true, label: 'convsync' }]);
    const conv = await backend.create({ name: 'Team x', members: people.slice(0, 3) });
    expect(conv.members.sort()).toEqual(people.slice(0, 3).sort());
    const fake = w.conversations.get(conv.id)!;
    expect(fake.team).toBe(w.teamId);
    expect(fake.members.get(bot.id)).toBe('wire_admin');
    expect(fake.members.get(people[0]!)).toBe('wire_member');
    expect(w.violations).toEqual([]);
  });

  it('treats 204 as "no change" for add and remove, and reports who really changed', async () => {
    const { people, backend } = await setup();
    const conv = await backend.create({ name: 'T', members: [people[0]!] });
    expect(await backend.addMembers(conv.id, [people[0]!])).toEqual({ added: [] });
    expect(await backend.addMembers(conv.id, [people[0]!, people[1]!])).toEqual({ added: [people[1]] });
    expect(await backend.removeMembers(conv.id, [people[2]!])).toEqual({ removed: [] });
    expect(await backend.removeMembers(conv.id, [people[1]!])).toEqual({ removed: [people[1]] });
    await backend.rename(conv.id, 'Renamed');
    expect((await backend.get(conv.id))!.name).toBe('Renamed');
    await backend.delete!(conv.id);
    expect(await backend.get(conv.id)).toBeUndefined();
  });

  it('lists only the team group conversations the daemon is in', async () => {
    const { wire: w, people, backend } = await setup();
    const mine = await backend.create({ name: 'Mine', members: [people[0]!] });
    // a conversation the daemon is not in
    const other = w.addUser({ email: 'o@example.com', password: 'other-password' });
    w.conversations.set('11111111-1111-4111-8111-111111111111', {
      id: '11111111-1111-4111-8111-111111111111',
      name: 'Not mine',
      creator: other.id,
      team: w.teamId,
      type: 0,
      access: ['invite'],
      accessRole: ['team_member'],
      protocol: 'proteus',
      members: new Map([[other.id, 'wire_admin']]),
    });
    expect((await backend.list()).map((c) => c.id)).toEqual([mine.id]);
  });

  it('renews the access token before it expires, through /access with the cookie', async () => {
    const { wire: w, backend } = await setup({ faults: { tokenLifetimeSeconds: 1 } });
    await backend.whoami();
    await sleep(850);
    await backend.whoami();
    expect(paths(w)).toContain('200 POST /access');
    expect(w.calls.some((c) => c.status === 401)).toBe(false);
    expect(w.logins).toHaveLength(1);
  });

  it('renews once on a 401 and retries the call', async () => {
    const { wire: w, backend } = await setup();
    await backend.whoami();
    w.expireTokens();
    await backend.whoami();
    expect(paths(w).slice(-3)).toEqual(['401 GET /v9/self', '200 POST /access', '200 GET /v9/self']);
  });

  it('keeps the cookie Wire sends back from /access (the superseded one stops working)', async () => {
    const { wire: w, backend } = await setup({ faults: { renewCookieOnAccess: true } });
    await backend.whoami();
    w.expireTokens();
    await backend.whoami(); // renews: the answer carries a new cookie
    w.revokeCookies({ keepNewest: true });
    w.expireTokens();
    await backend.whoami(); // must renew with the new cookie, not log in again
    expect(w.logins).toHaveLength(1);
    expect(w.calls.filter((c) => c.path === '/access').map((c) => c.status)).toEqual([200, 200]);
  });

  it('logs in again only when the cookie itself is refused', async () => {
    const { wire: w, backend } = await setup();
    await backend.whoami();
    w.revokeCookies();
    w.expireTokens();
    await backend.whoami();
    expect(paths(w).slice(-4)).toEqual(['401 GET /v9/self', '403 POST /access', '200 POST /v9/login', '200 GET /v9/self']);
    expect(w.logins).toHaveLength(2);
  });

  it("logs a read-only command in under a label of its own, which leaves the daemon's cookie alive", async () => {
    const { wire: w, backend: daemon } = await setup();
    await daemon.whoami();
    const reader = wireBackend.create(config(w.url), { logger, readOnly: true });
    await reader.whoami();
    await reader.close?.();
    w.expireTokens();
    await daemon.whoami();
    expect(w.logins).toEqual([
      { persist: true, label: 'convsync' },
      { persist: true, label: 'convsync-read' },
    ]);
    expect(paths(w).slice(-3)).toEqual(['401 GET /v9/self', '200 POST /access', '200 GET /v9/self']);

    // another writer's login under the same label does end the daemon's session
    await wireBackend.create(config(w.url), { logger }).whoami();
    w.expireTokens();
    await daemon.whoami();
    expect(paths(w).slice(-4)).toEqual(['401 GET /v9/self', '403 POST /access', '200 POST /v9/login', '200 GET /v9/self']);
  });

  it('raises typed errors with Wire labels: auth, capacity, permanent', async () => {
    const { wire: w, people, backend } = await setup({ maxConvSize: 4 });
    const conv = await backend.create({ name: 'Small', members: people.slice(0, 3) });
    const full = await backend.addMembers(conv.id, people.slice(3, 5)).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(CapacityError);
    expect(full).toMatchObject({ label: 'too-many-members', status: 403, origin: 'wire' });

    // demoted to wire_member: convsync lost control of this conversation
    w.conversations.get(conv.id)!.members.set(w.users.values().next().value!.id, 'wire_member');
    const denied = await backend.rename(conv.id, 'x').catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(PermanentError);
    expect((denied as PermanentError).describe()).toBe(
      'wire 403 action-denied: PUT /conversations/{domain}/{id}/name: Insufficient authorization (missing modify_conversation_name)',
    );

    const wrong = wireBackend.create(config(w.url, { password: 'not-the-password' }), { logger });
    const refused = await wrong.whoami().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AuthError);
    expect(refused).toMatchObject({ label: 'invalid-credentials' });
  });

  it('v6–v15 by default: the highest both serve, a development version only when max names it', async () => {
    const wide = (extra: Partial<WireBackendConfig> = {}) => ({ apiVersions: { min: 6, max: 15 }, ...extra });
    const { wire: w, backend } = await setup({}, wide());
    await backend.whoami();
    expect(w.calls.find((c) => c.path.endsWith('/self'))!.path).toBe('/v15/self');
    // v10+: a create answered 201 only, conversations without an unqualified id
    const conv = await backend.create({ name: 'Team v15', members: [] });
    expect(conv.id).toMatch(/^[0-9a-f-]{36}$/);
    await w.stop();
    const { wire: w2, backend: dev } = await setup({ development: [16] }, wide({ apiVersions: { min: 6, max: 16 } }));
    await dev.whoami();
    expect(w2.calls.find((c) => c.path.endsWith('/self'))!.path).toBe('/v16/self');
    await w2.stop();
    const { backend: none } = await setup({ supported: [3, 4, 5], development: [] }, wide());
    await expect(none.whoami()).rejects.toThrow(/supports API versions \[3, 4, 5\], none within v6–v15/);
  });

  it('parses user ids as Wire UUIDs, optionally qualified', async () => {
    const { backend } = await setup();
    expect(backend.parseUserId('0F1E2D3C-4B5A-4968-8776-5A4B3C2D1E0F')).toBe('0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f');
    expect(backend.parseUserId('0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f@other.example')).toBe('0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f@other.example');
    expect(backend.parseUserId('alice')).toBeUndefined();
  });
});

describe('Wire backend edge cases (MockAgent)', () => {
  const origin = 'https://wire.test';
  function mock() {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const pool = agent.get(origin);
    pool.intercept({ path: '/api-version' }).reply(200, { supported: [6, 7, 8, 9], development: [], domain: 'wire.test', federation: false });
    pool
      .intercept({ path: '/v9/login?persist=true', method: 'POST' })
      .reply(200, { user: 'u', access_token: 'tok', token_type: 'Bearer', expires_in: 900 }, { headers: { 'set-cookie': 'zuid=abc; Path=/access' } });
    return { agent, pool, backend: wireBackend.create(config(origin, { teamId: '5e0e4a0b-5a5c-4a4b-9a3b-1a2b3c4d5e6f' }), { logger, dispatcher: agent }) };
  }

  it('rejects a create answer outside the contract', async () => {
    const { agent, pool, backend } = mock();
    pool.intercept({ path: '/v9/conversations', method: 'POST' }).reply(201, { id: 'no-qualified-id' });
    const e = await backend.create({ name: 'x', members: [] }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PermanentError);
    expect((e as Error).message).toMatch(/answer outside the Wire contract \(HTTP 201, qualified_id/);
    agent.assertNoPendingInterceptors();
  });

  it('reads 420 and 429 as throttling with Retry-After, and a non-JSON 5xx as transient', async () => {
    const { pool, backend } = mock();
    pool.intercept({ path: '/v9/self' }).reply(420, '<html>slow down</html>', { headers: { 'retry-after': '3' } });
    const throttled = await backend.whoami().catch((x: unknown) => x);
    expect(throttled).toBeInstanceOf(TransientError);
    expect(throttled).toMatchObject({ throttled: true, retryAfterMs: 3000, status: 420 });
    pool.intercept({ path: '/v9/self' }).reply(429, { code: 429, label: 'client-error', message: 'Logins too frequent' });
    expect(await backend.whoami().catch((x: unknown) => x)).toMatchObject({ throttled: true, label: 'client-error' });
    pool.intercept({ path: '/v9/self' }).reply(502, 'Bad Gateway');
    expect(await backend.whoami().catch((x: unknown) => x)).toBeInstanceOf(TransientError);
  });

  it('refuses a login answer without the zuid cookie', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const pool = agent.get(origin);
    pool.intercept({ path: '/api-version' }).reply(200, { supported: [9], domain: 'wire.test' });
    pool.intercept({ path: '/v9/login?persist=true', method: 'POST' }).reply(200, { user: 'u', access_token: 't', token_type: 'Bearer', expires_in: 900 });
    const backend = wireBackend.create(config(origin), { logger, dispatcher: agent });
    await expect(backend.whoami()).rejects.toThrow(/no zuid cookie/);
  });
});
