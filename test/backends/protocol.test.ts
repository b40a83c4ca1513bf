import { pino } from 'pino';
import { MockAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { protocolBackend } from '../../src/backends/protocol/index.js';
import type { ProtocolBackendConfig } from '../../src/config/schema.js';
import { AuthError, PermanentError, TransientError } from '../../src/errors.js';
import { ProtocolSandbox } from '../../src/sandbox/protocol/server.js';
import { startProxy } from '../helpers/gateway-proxy.js';

const logger = pino({ level: 'silent' });
const config = (baseUrl: string, extra: Partial<ProtocolBackendConfig> = {}): ProtocolBackendConfig => ({
  type: 'protocol',
  baseUrl,
  auth: { type: 'bearer', token: 'tok' },
  contacts: { matchOn: 'username', create: false },
  timeoutMs: 5000,
  ...extra,
});

let sandbox: ProtocolSandbox | undefined;
afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

describe('Protocol backend against the Protocol sandbox', () => {
  it('creates a group with its conversation, sets members with one PUT read back, archives', async () => {
    sandbox = await ProtocolSandbox.start({ token: 'tok' });
    const [a, b, c] = ['ann', 'bob', 'cid'].map((u) => sandbox!.addContact({ username: u }).id);
    const backend = protocolBackend.create(config(sandbox.baseUrl), { logger });
    const conv = await backend.create({ name: 'Team x', members: [a!, b!] });
    expect(sandbox.groups.get(conv.id)!.conversation_id).toMatch(/^[A-Za-z0-9]{16}$/);
    const writes = sandbox.writeCalls().length;
    await backend.updateConversation!(conv.id, { name: 'Team y', add: [c!], remove: [a!] });
    expect(sandbox.writeCalls().length - writes).toBe(1);
    expect(sandbox.groups.get(conv.id)).toMatchObject({ name: 'Team y', contacts: [b, c] });
    // nothing to change: no PUT at all
    await backend.updateConversation!(conv.id, { add: [b!], remove: [] });
    expect(sandbox.writeCalls().length - writes).toBe(1);
    expect((await backend.list()).map((x) => x.id)).toEqual([conv.id]);
    await backend.archive!(conv.id);
    expect(sandbox.groups.get(conv.id)!.archived_at).not.toBeNull();
    expect(await backend.get(conv.id)).toBeUndefined();
    expect(await backend.list()).toEqual([]);
  });

  it('finds contacts by username across pages (a read), and makes a missing one only when allowed and asked', async () => {
    sandbox = await ProtocolSandbox.start({ token: 'tok' });
    for (let i = 0; i < 150; i++) sandbox.addContact({ username: `user${i}` });
    const strict = protocolBackend.create(config(sandbox.baseUrl), { logger });
    const found = await strict.lookupHandles!(['user0', 'USER149', 'nobody']);
    expect(found.get('user0')).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(found.get('USER149')).toBe([...sandbox.contacts.values()].find((c) => c.username === 'user149')!.id);
    expect(found.get('nobody')).toBeNull();
    expect(strict.newUser!('nobody', { phone: '+49301234' })).toBeUndefined();
    const creating = protocolBackend.create(config(sandbox.baseUrl, { contacts: { matchOn: 'username', create: true } }), { logger });
    const writes = sandbox.writeCalls().length;
    expect((await creating.lookupHandles!(['nobody', 'nophone'])).get('nobody')).toBeNull();
    // looking up never makes anyone: that is a planned op
    expect(sandbox.writeCalls().length).toBe(writes);
    expect(creating.newUser!('nophone', {})).toBeUndefined();
    const wanted = creating.newUser!('nobody', { phone: '+49301234' })!;
    expect(wanted).toEqual({ handle: 'nobody', phone: '+49301234' });
    const id = await creating.createUser!(wanted);
    expect(sandbox.contacts.get(id)).toMatchObject({ username: 'nobody', phone_number: '+49301234' });
  });

  it('takes a page that says more follow yet holds nothing as outside the contract, never as the end of a listing', async () => {
    sandbox = await ProtocolSandbox.start({ token: 'tok' });
    for (let i = 0; i < 150; i++) sandbox.addContact({ username: `user${i}` });
    const backend = protocolBackend.create(config(sandbox.baseUrl), { logger });
    await backend.create({ name: 'Team x', members: [] });
    let pages = 0;
    let lastOfFirst: unknown;
    // the second page of contacts, and the first of groups, come back empty with has_more (a lagging replica, a gateway);
    // the fourth (the second of the next listing) holds only the item it was to start after
    const proxy = await startProxy(sandbox.url, (method, path) => {
      if (method !== 'GET') return { kind: 'pass' };
      if (path.endsWith('/groups')) return { kind: 'mangle', body: () => JSON.stringify({ has_more: true, data: [] }) };
      pages++;
      if (pages === 2) return { kind: 'mangle', body: () => JSON.stringify({ has_more: true, data: [] }) };
      if (pages === 3) return { kind: 'mangle', body: (text) => ((lastOfFirst = JSON.parse(text).data.at(-1)), text) };
      if (pages === 4) return { kind: 'mangle', body: () => JSON.stringify({ has_more: true, data: [lastOfFirst] }) };
      return { kind: 'pass' };
    });
    try {
      const odd = protocolBackend.create(config(`${proxy.url}/v1`), { logger });
      const contract = { origin: 'protocol', label: 'contract' };
      await expect(odd.lookupHandles!(['user0', 'user149'])).rejects.toThrow(/GET \/contacts: has_more with an empty page \(outside the Protocol contract\)/);
      await expect(odd.lookupHandles!(['user0'])).rejects.toThrow(/GET \/contacts: a page that ends at \w+ again \(outside the Protocol contract\)/);
      await expect(odd.lookupHandles!(['user0'])).resolves.toBeInstanceOf(Map);
      const listed = await odd.list().catch((e: unknown) => e);
      expect(listed).toBeInstanceOf(PermanentError);
      expect(listed).toMatchObject({ ...contract, message: 'GET /groups: has_more with an empty page (outside the Protocol contract)' });
    } finally {
      await proxy.stop();
    }
  });

  it('rejects what the documented API rejects: unknown contacts, bad limits, missing token', async () => {
    sandbox = await ProtocolSandbox.start({ token: 'tok', maxMembers: 2 });
    const backend = protocolBackend.create(config(sandbox.baseUrl), { logger });
    // a contact Protocol does not know: the group is made without it, and adding it is refused for it alone
    const made = await backend.create({ name: 'x', members: ['AAAAAAAAAAAAAAAA'] });
    expect(made.members).toEqual([]);
    const unknown = await backend.addMembers(made.id, ['AAAAAAAAAAAAAAAA']).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(PermanentError);
    expect(unknown).toMatchObject({ status: 400, label: 'unknown-contact' });
    expect(await backend.rename(made.id, '').catch((e: unknown) => e)).toMatchObject({ status: 400, label: 'invalid_request' });
    const ids = ['a', 'b', 'c'].map((u) => sandbox!.addContact({ username: u }).id);
    expect(await backend.create({ name: 'y', members: ids }).catch((e: unknown) => e)).toMatchObject({ status: 422 });
    const noToken = protocolBackend.create(config(sandbox.baseUrl, { auth: { type: 'bearer', token: 'wrong' } }), { logger });
    expect(await noToken.whoami().catch((e: unknown) => e)).toBeInstanceOf(AuthError);
  });
});

describe('Protocol backend edge cases (MockAgent)', () => {
  it('reads 429 with Retry-After as throttling, a 500 as transient, and refuses a PUT that did not replace', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const pool = agent.get('https://api.test');
    const backend = protocolBackend.create(config('https://api.test/v1'), { logger, dispatcher: agent });
    pool.intercept({ path: '/v1/groups?limit=1' }).reply(429, { type: 'invalid_request', message: 'slow down' }, { headers: { 'retry-after': '2' } });
    expect(await backend.whoami().catch((e: unknown) => e)).toMatchObject({ throttled: true, retryAfterMs: 2000, label: 'invalid_request' });
    pool.intercept({ path: '/v1/groups?limit=1' }).reply(500, 'oops');
    expect(await backend.whoami().catch((e: unknown) => e)).toBeInstanceOf(TransientError);

    const group = {
      id: 'G000000000000001',
      name: 'g',
      conversation_id: 'C000000000000001',
      contacts: [{ id: 'A000000000000001', username: 'a' }],
      archived_at: null,
    };
    pool.intercept({ path: '/v1/groups/G000000000000001' }).reply(200, group);
    pool.intercept({ path: '/v1/groups/G000000000000001', method: 'PUT' }).reply(200, group);
    // a server that merged instead of replacing: the read-back still shows the removed contact
    pool.intercept({ path: '/v1/groups/G000000000000001' }).reply(200, group);
    const e = await backend.updateConversation!('G000000000000001', { add: [], remove: ['A000000000000001'] }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PermanentError);
    expect((e as Error).message).toMatch(/does not hold the members just set/);
    agent.assertNoPendingInterceptors();
  });
});
