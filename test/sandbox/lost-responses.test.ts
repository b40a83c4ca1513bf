import { createHash, createPrivateKey, randomUUID, sign } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LostAs } from '../../src/sandbox/lost-responses.js';
import { MixinSandbox } from '../../src/sandbox/mixin/server.js';
import { ProtocolSandbox } from '../../src/sandbox/protocol/server.js';
import { WireSandbox } from '../../src/sandbox/wire/server.js';

/** Each chat sandbox applies a write and then loses its answer, on every mutating route. */

const KINDS: LostAs[] = [502, 504, 'drop', 'slow'];
const SLOW_MS = 250;

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
type Answer = { status: number; text: string; headers: IncomingHttpHeaders; ms: number };
type Outcome = Answer | { error: string; ms: number };
/** one write: what is sent, the status of its normal answer, and the exact state it must leave */
interface Write {
  method: Method;
  path: string;
  body?: unknown;
  ok: number;
  check: () => void;
}
type Send = (method: Method, path: string, body?: unknown, timeoutMs?: number) => Promise<Outcome>;
interface Lossy {
  loseResponses(rule: { method?: string; path?: RegExp | string; times?: number; as?: LostAs; delayMs?: number }): void;
  readonly lost: { method: string; path: string; as: LostAs; at: number }[];
  writeCalls(): { method: string; path: string; status: number; lost?: LostAs }[];
}

async function raw(url: string, method: Method, headers: Record<string, string>, body: string | undefined, timeoutMs = 10_000): Promise<Outcome> {
  const start = Date.now();
  try {
    const res = await request(url, { method, headers, headersTimeout: timeoutMs, ...(body === undefined ? {} : { body }) });
    return { status: res.statusCode, text: await res.body.text(), headers: res.headers, ms: Date.now() - start };
  } catch (e) {
    return { error: (e as { code?: string }).code ?? String(e), ms: Date.now() - start };
  }
}

const answered = (o: Outcome): Answer => {
  if ('error' in o) throw new Error(`no answer: ${o.error}`);
  return o;
};
const json = (o: Outcome) => JSON.parse(answered(o).text) as Record<string, any>;

function expectLostAs(o: Outcome, as: LostAs, ok: number): void {
  if (as === 'drop') return void expect(o).toMatchObject({ error: 'UND_ERR_SOCKET' });
  const a = answered(o);
  if (as === 'slow') {
    expect(a.status).toBe(ok);
    expect(a.ms).toBeGreaterThanOrEqual(SLOW_MS - 10);
    return;
  }
  expect(a.status).toBe(as);
  expect(a.headers['content-type']).toBe('text/html');
  expect(a.text).toContain(as === 502 ? '502 Bad Gateway' : '504 Gateway Time-out');
  expect(() => JSON.parse(a.text)).toThrow();
}

/** loses the answer to `w` as `as`, then checks the client's view, the state and both records */
async function loseOne(s: Lossy, send: Send, w: Write, as: LostAs): Promise<void> {
  const [lostBefore, writesBefore] = [s.lost.length, s.writeCalls().length];
  s.loseResponses({ method: w.method, path: w.path, as, delayMs: SLOW_MS });
  expectLostAs(await send(w.method, w.path, w.body), as, w.ok);
  w.check();
  expect(s.lost.slice(lostBefore)).toEqual([{ method: w.method, path: w.path, as, at: expect.any(Number) }]);
  expect(s.writeCalls().slice(writesBefore)).toEqual([expect.objectContaining({ method: w.method, path: w.path, status: w.ok, lost: as })]);
}

// ---- Wire ---------------------------------------------------------------------------------------

describe('Wire sandbox', () => {
  let wire: WireSandbox;
  let admin = '';
  let people: string[] = [];
  let token = '';
  const send: Send = (method, path, body, timeoutMs) =>
    raw(
      wire.url + path,
      method,
      { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body === undefined ? undefined : JSON.stringify(body),
      timeoutMs,
    );
  const q = (id: string) => ({ id, domain: wire.domain });
  const team = () => ({ teamid: wire.teamId, managed: false });
  const members = (id: string) => [...wire.conversations.get(id)!.members.keys()].sort();
  async function conversation(name = 'c', invitees = [people[0]!]): Promise<string> {
    return json(await send('POST', '/v9/conversations', { name, qualified_users: invitees.map(q), team: team() })).id as string;
  }

  async function start(faults: Partial<WireSandbox['faults']> = {}) {
    wire = await WireSandbox.start({ faults });
    admin = wire.addUser({ email: 'admin@example.com', password: 'password1' }).id;
    people = Array.from({ length: 4 }, (_, i) => wire.addUser({ name: `p${i}` }).id);
    token = json(
      await raw(`${wire.url}/v9/login`, 'POST', { 'content-type': 'application/json' }, JSON.stringify({ email: 'admin@example.com', password: 'password1' })),
    ).access_token;
  }
  beforeEach(() => start());
  afterEach(() => wire.stop());

  const writes: Record<string, () => Promise<Write>> = {
    'POST /conversations': async () => ({
      method: 'POST',
      path: '/v9/conversations',
      body: { name: 'made', qualified_users: [q(people[1]!)], team: team() },
      ok: 201,
      check: () => expect([...wire.conversations.values()].map((c) => [c.name, [...c.members.keys()].sort()])).toEqual([['made', [admin, people[1]].sort()]]),
    }),
    'POST members': async () => {
      const c = await conversation();
      return {
        method: 'POST',
        path: `/v9/conversations/${wire.domain}/${c}/members`,
        body: { qualified_users: [q(people[2]!)] },
        ok: 200,
        check: () => expect(members(c)).toEqual([admin, people[0], people[2]].sort()),
      };
    },
    'DELETE member': async () => {
      const c = await conversation('c', [people[0]!, people[1]!]);
      return {
        method: 'DELETE',
        path: `/v9/conversations/${wire.domain}/${c}/members/${wire.domain}/${people[0]}`,
        ok: 200,
        check: () => expect(members(c)).toEqual([admin, people[1]].sort()),
      };
    },
    'PUT name': async () => {
      const c = await conversation('old');
      return {
        method: 'PUT',
        path: `/v9/conversations/${wire.domain}/${c}/name`,
        body: { name: 'new' },
        ok: 200,
        check: () => expect(wire.conversations.get(c)!.name).toBe('new'),
      };
    },
    'DELETE team conversation': async () => {
      const [keep, gone] = [await conversation('keep'), await conversation('gone')];
      return {
        method: 'DELETE',
        path: `/v9/teams/${wire.teamId}/conversations/${gone}`,
        ok: 200,
        check: () => expect([...wire.conversations.keys()]).toEqual([keep]),
      };
    },
  };
  for (const as of KINDS)
    for (const [name, make] of Object.entries(writes)) it(`${name}: applied, answer lost as ${as}`, async () => loseOne(wire, send, await make(), as));

  it('honours times, leaves other routes, failures and reads alone, and keeps the rule for the next match', async () => {
    const c = await conversation('c', [people[0]!, people[1]!]);
    wire.loseResponses({ method: 'PUT', path: /\/name$/, times: 2, as: 504 });
    wire.loseResponses({ method: 'DELETE', path: `/v9/conversations/${wire.domain}/${c}/members/${wire.domain}/${people[1]}` });
    const rename = (name: string) => send('PUT', `/v9/conversations/${wire.domain}/${c}/name`, { name });
    expect(answered(await rename('')).status).toBe(400); // a failed write keeps its own answer
    expect(answered(await send('DELETE', `/v9/conversations/${wire.domain}/${c}/members/${wire.domain}/${people[0]}`)).status).toBe(200);
    expect(answered(await send('GET', `/v9/conversations/${wire.domain}/${c}`)).status).toBe(200);
    expect(answered(await send('POST', '/v9/conversations/list-ids', {})).status).toBe(200);
    expect(answered(await rename('a')).status).toBe(504);
    expect(answered(await rename('b')).status).toBe(504);
    expect(answered(await rename('c')).status).toBe(200);
    expect(answered(await send('DELETE', `/v9/conversations/${wire.domain}/${c}/members/${wire.domain}/${people[1]}`)).status).toBe(502);
    expect(wire.conversations.get(c)!.name).toBe('c');
    expect(members(c)).toEqual([admin]);
    expect(wire.lost.map((l) => l.as)).toEqual([504, 504, 502]);
    expect(wire.calls.filter((x) => x.lost).map((x) => [x.method, x.status])).toEqual([
      ['PUT', 200],
      ['PUT', 200],
      ['DELETE', 200],
    ]);
  });

  it('keeps a 204 no-change answer losable, and leaves injected errors as they were', async () => {
    const c = await conversation();
    wire.loseResponses({ times: Infinity, as: 'drop' });
    expect(await send('POST', `/v9/conversations/${wire.domain}/${c}/members`, { qualified_users: [q(people[0]!)] })).toMatchObject({
      error: 'UND_ERR_SOCKET',
    });
    wire.faults.errorRatio = 1;
    expect(answered(await send('PUT', `/v9/conversations/${wire.domain}/${c}/name`, { name: 'x' })).status).toBe(503);
    expect(wire.conversations.get(c)!.name).toBe('c');
    expect(wire.lost).toHaveLength(1);
  });

  it('a client with a shorter timeout gives up after the change was made; stop() does not wait', async () => {
    const c = await conversation();
    wire.loseResponses({ as: 'slow', delayMs: 30_000 });
    const o = await send('PUT', `/v9/conversations/${wire.domain}/${c}/name`, { name: 'late' }, 200);
    expect(o).toMatchObject({ error: 'UND_ERR_HEADERS_TIMEOUT' });
    expect(wire.conversations.get(c)!.name).toBe('late');
    wire.loseResponses({ as: 'slow', delayMs: 30_000 });
    const pending = send('PUT', `/v9/conversations/${wire.domain}/${c}/name`, { name: 'later' });
    await expect.poll(() => wire.conversations.get(c)!.name).toBe('later');
    const t = Date.now();
    await wire.stop();
    expect(Date.now() - t).toBeLessThan(2000);
    expect(await pending).toMatchObject({ error: 'UND_ERR_SOCKET' });
    expect(wire.lost.map((l) => l.as)).toEqual(['slow', 'slow']);
  });

  it('lostResponseRatio 1 loses every successful write (502, 504, drop in turn) and no read or login', async () => {
    await wire.stop();
    await start({ lostResponseRatio: 1 });
    const created = await send('POST', '/v9/conversations', { name: 'r', qualified_users: [q(people[0]!)], team: team() });
    expect(answered(created).status).toBe(502);
    const id = [...wire.conversations.keys()][0]!;
    expect(answered(await send('PUT', `/v9/conversations/${wire.domain}/${id}/name`, { name: 's' })).status).toBe(504);
    expect(await send('POST', `/v9/conversations/${wire.domain}/${id}/members`, { qualified_users: [q(people[1]!)] })).toMatchObject({
      error: 'UND_ERR_SOCKET',
    });
    expect(answered(await send('PUT', `/v9/conversations/${wire.domain}/nowhere/name`, { name: 's' })).status).toBe(404);
    expect(json(await send('GET', `/v9/conversations/${wire.domain}/${id}`))).toMatchObject({ name: 's' });
    expect(answered(await send('GET', '/v9/self')).status).toBe(200);
    expect(members(id)).toEqual([admin, people[0], people[1]].sort());
    expect(wire.lost.map((l) => l.as)).toEqual([502, 504, 'drop']);
    expect(wire.writeCalls().map((x) => x.lost)).toEqual([502, 504, 'drop', undefined]);
  });

  it('refuses a rule it could not honour', () => {
    expect(() => wire.loseResponses({ times: -1 })).toThrow(RangeError);
    expect(() => wire.loseResponses({ as: 503 as LostAs })).toThrow(RangeError);
  });
});

// ---- Protocol -----------------------------------------------------------------------------------

describe('Protocol sandbox', () => {
  let p: ProtocolSandbox;
  let contacts: string[] = [];
  const send: Send = (method, path, body, timeoutMs) =>
    raw(
      p.url + path,
      method,
      { 'content-type': 'application/json', authorization: 'Bearer t0ken' },
      body === undefined ? undefined : JSON.stringify(body),
      timeoutMs,
    );
  async function group(name = 'g', members = [contacts[0]!]) {
    return json(await send('POST', '/v1/groups', { name, contacts: members.map((id) => ({ id })) })) as { id: string; conversation_id: string };
  }
  async function start(faults: Partial<ProtocolSandbox['faults']> = {}) {
    p = await ProtocolSandbox.start({ token: 't0ken', faults });
    contacts = Array.from({ length: 3 }, (_, i) => p.addContact({ username: `c${i}` }).id);
  }
  beforeEach(() => start());
  afterEach(() => p.stop());

  const writes: Record<string, () => Promise<Write>> = {
    'POST /contacts': async () => ({
      method: 'POST',
      path: '/v1/contacts',
      body: { username: 'new', phone_number: '+491' },
      ok: 200,
      check: () => expect([...p.contacts.values()].map((c) => c.username)).toEqual(['c0', 'c1', 'c2', 'new']),
    }),
    'PUT /contacts/:id': async () => ({
      method: 'PUT',
      path: `/v1/contacts/${contacts[0]}`,
      body: { display_name: 'Zoe' },
      ok: 200,
      check: () => expect(p.contacts.get(contacts[0]!)!.display_name).toBe('Zoe'),
    }),
    'DELETE /contacts/:id': async () => ({
      method: 'DELETE',
      path: `/v1/contacts/${contacts[1]}`,
      ok: 204,
      check: () => expect([...p.contacts.keys()]).toEqual([contacts[0], contacts[2]]),
    }),
    'POST /groups': async () => ({
      method: 'POST',
      path: '/v1/groups',
      body: { name: 'made', contacts: [contacts[2]] },
      ok: 200,
      check: () => {
        expect([...p.groups.values()].map((g) => [g.name, g.contacts])).toEqual([['made', [contacts[2]]]]);
        expect(p.conversations.size).toBe(1);
      },
    }),
    'PUT /groups/:id': async () => {
      const g = await group();
      return {
        method: 'PUT',
        path: `/v1/groups/${g.id}`,
        body: { name: 'renamed', contacts: [contacts[1], contacts[2]] },
        ok: 200,
        check: () => expect(p.groups.get(g.id)).toMatchObject({ name: 'renamed', contacts: [contacts[1], contacts[2]] }),
      };
    },
    'DELETE /groups/:id': async () => {
      const [keep, gone] = [await group('keep'), await group('gone')];
      return {
        method: 'DELETE',
        path: `/v1/groups/${gone.id}`,
        ok: 204,
        check: () => expect([[...p.groups.keys()], [...p.conversations.keys()]]).toEqual([[keep.id], [keep.conversation_id]]),
      };
    },
    'POST /conversations': async () => {
      const g = await group();
      p.conversations.delete(g.conversation_id); // so that POST has one to make
      p.groups.get(g.id)!.conversation_id = null;
      return {
        method: 'POST',
        path: '/v1/conversations',
        body: { group_id: g.id },
        ok: 200,
        check: () => expect([...p.conversations.values()].map((c) => c.group_id)).toEqual([g.id]),
      };
    },
    'PUT /conversations/:id': async () => {
      const g = await group();
      return {
        method: 'PUT',
        path: `/v1/conversations/${g.conversation_id}`,
        body: { is_muted: true },
        ok: 200,
        check: () => expect(p.conversations.get(g.conversation_id)!.is_muted).toBe(true),
      };
    },
  };
  for (const as of KINDS)
    for (const [name, make] of Object.entries(writes)) it(`${name}: applied, answer lost as ${as}`, async () => loseOne(p, send, await make(), as));

  it('honours times, leaves other routes, failures and reads alone', async () => {
    const g = await group();
    p.loseResponses({ method: 'PUT', path: /^\/v1\/groups\//, times: 2, as: 'drop' });
    expect(answered(await send('PUT', '/v1/groups/nope', { name: 'x' })).status).toBe(404);
    expect(answered(await send('PUT', `/v1/groups/${g.id}`, { name: '' })).status).toBe(400);
    expect(answered(await send('PUT', `/v1/conversations/${g.conversation_id}`, { is_pinned: true })).status).toBe(200);
    expect(answered(await send('GET', `/v1/groups/${g.id}`)).status).toBe(200);
    expect(await send('PUT', `/v1/groups/${g.id}`, { name: 'a' })).toMatchObject({ error: 'UND_ERR_SOCKET' });
    expect(await send('PUT', `/v1/groups/${g.id}`, { name: 'b' })).toMatchObject({ error: 'UND_ERR_SOCKET' });
    expect(json(await send('PUT', `/v1/groups/${g.id}`, { name: 'c' }))).toMatchObject({ name: 'c' });
    expect(p.lost.map((l) => [l.method, l.path, l.as])).toEqual([
      ['PUT', `/v1/groups/${g.id}`, 'drop'],
      ['PUT', `/v1/groups/${g.id}`, 'drop'],
    ]);
    expect(p.writeCalls().map((c) => [c.status, c.lost])).toEqual([
      [200, undefined],
      [404, undefined],
      [400, undefined],
      [200, undefined],
      [200, 'drop'],
      [200, 'drop'],
      [200, undefined],
    ]);
  });

  it('lostResponseRatio 1 with one kind loses every successful write and no read', async () => {
    await p.stop();
    await start({ lostResponseRatio: 1, lostResponseAs: 504 });
    expect(answered(await send('POST', '/v1/groups', { name: 'r', contacts: [contacts[0]] })).status).toBe(504);
    const g = [...p.groups.values()][0]!;
    expect(answered(await send('DELETE', `/v1/contacts/${contacts[1]}`)).status).toBe(504);
    expect(answered(await send('POST', '/v1/groups', { name: '' })).status).toBe(400);
    expect(json(await send('GET', `/v1/groups/${g.id}`))).toMatchObject({ name: 'r', contacts: [{ id: contacts[0] }] });
    expect(json(await send('GET', '/v1/contacts')).data).toHaveLength(2);
    expect(p.lost.map((l) => l.as)).toEqual([504, 504]);
  });
});

// ---- Mixin --------------------------------------------------------------------------------------

/** Mixin's UniqueConversationId, as the sandbox derives it */
function unique(a: string, b: string): string {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  const d = createHash('md5')
    .update(Buffer.compare(x, y) <= 0 ? Buffer.concat([x, y]) : Buffer.concat([y, x]))
    .digest();
  d[6] = (d[6]! & 0x0f) | 0x30;
  d[8] = (d[8]! & 0x3f) | 0x80;
  const h = d.toString('hex');
  return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join('-');
}

describe('Mixin sandbox', () => {
  let m: MixinSandbox;
  let bot = '';
  let people: string[] = [];
  let key: ReturnType<typeof createPrivateKey>;
  let session = '';
  const send: Send = (method, path, body, timeoutMs) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    const jti = randomUUID();
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const sig = createHash('sha256')
      .update(method + path + text)
      .digest('hex');
    const unsigned = `${b64({ alg: 'EdDSA', typ: 'JWT' })}.${b64({ uid: bot, sid: session, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600, jti, sig, scp: 'FULL' })}`;
    const jwt = `${unsigned}.${sign(null, Buffer.from(unsigned), key).toString('base64url')}`;
    return raw(
      m.url + path,
      method,
      { 'content-type': 'application/json', authorization: `Bearer ${jwt}`, 'x-request-id': jti },
      body === undefined ? undefined : text,
      timeoutMs,
    );
  };
  async function conversation(name = 'c', members = [people[0]!]): Promise<string> {
    const random = randomUUID();
    let id = unique(unique(bot, name), random);
    for (const u of [...members].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) id = unique(id, u);
    const body = { category: 'GROUP', conversation_id: id, name, participants: members.map((user_id) => ({ user_id })), random_id: random };
    expect(json(await send('POST', '/conversations', body))).toMatchObject({ data: { conversation_id: id } });
    return id;
  }
  const roles = (id: string) => Object.fromEntries(m.conversations.get(id)!.participants);

  async function start(faults: Partial<MixinSandbox['faults']> = {}) {
    m = await MixinSandbox.start({ faults, maxMembers: 3 });
    const b = m.createBot();
    bot = b.userId;
    session = b.keystore.session_id;
    key = createPrivateKey({
      key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(b.keystore.session_private_key, 'hex')]),
      format: 'der',
      type: 'pkcs8',
    });
    people = Array.from({ length: 3 }, () => m.addUser().user_id);
  }
  beforeEach(() => start());
  afterEach(async () => {
    expect(m.violations).toEqual([]);
    await m.stop();
  });

  const writes: Record<string, () => Promise<Write>> = {
    'POST /conversations': async () => {
      const random = randomUUID();
      const id = unique(unique(unique(bot, 'made'), random), people[1]!);
      const body = { category: 'GROUP', conversation_id: id, name: 'made', participants: [{ user_id: people[1] }], random_id: random };
      return {
        method: 'POST',
        path: '/conversations',
        body,
        ok: 200,
        check: () => expect([...m.conversations.keys()].map(roles)).toEqual([{ [bot]: 'OWNER', [people[1]!]: '' }]),
      };
    },
    'POST /conversations/:id': async () => {
      const c = await conversation('old');
      return {
        method: 'POST',
        path: `/conversations/${c}`,
        body: { name: 'new', announcement: 'hi' },
        ok: 200,
        check: () => expect(m.conversations.get(c)).toMatchObject({ name: 'new', announcement: 'hi' }),
      };
    },
    'POST participants/ADD': async () => {
      const c = await conversation();
      return {
        method: 'POST',
        path: `/conversations/${c}/participants/ADD`,
        body: [{ user_id: people[2] }],
        ok: 200,
        check: () => expect(roles(c)).toEqual({ [bot]: 'OWNER', [people[0]!]: '', [people[2]!]: '' }),
      };
    },
    'POST participants/REMOVE': async () => {
      const c = await conversation('c', [people[0]!, people[1]!]);
      return {
        method: 'POST',
        path: `/conversations/${c}/participants/REMOVE`,
        body: [{ user_id: people[0] }],
        ok: 200,
        check: () => expect(roles(c)).toEqual({ [bot]: 'OWNER', [people[1]!]: '' }),
      };
    },
    'POST participants/ROLE': async () => {
      const c = await conversation();
      return {
        method: 'POST',
        path: `/conversations/${c}/participants/ROLE`,
        body: [{ user_id: people[0], role: 'ADMIN' }],
        ok: 200,
        check: () => expect(roles(c)).toEqual({ [bot]: 'OWNER', [people[0]!]: 'ADMIN' }),
      };
    },
  };
  for (const as of KINDS)
    for (const [name, make] of Object.entries(writes)) it(`${name}: applied, answer lost as ${as}`, async () => loseOne(m, send, await make(), as));

  it('honours times and leaves /users/fetch, error codes and reads alone', async () => {
    const c = await conversation();
    m.loseResponses({ method: 'post', times: 2, as: 502 });
    expect(json(await send('POST', '/users/fetch', [people[0]]))).toMatchObject({ data: [{ user_id: people[0] }] });
    expect(json(await send('POST', `/conversations/${c}/participants/REMOVE`, [{ user_id: bot }]))).toMatchObject({ error: { code: 403 } });
    expect(
      json(
        await send(
          'POST',
          `/conversations/${c}/participants/ADD`,
          people.map((user_id) => ({ user_id })),
        ),
      ),
    ).toMatchObject({ error: { code: 20116 } });
    expect(json(await send('GET', `/conversations/${c}`))).toMatchObject({ data: { conversation_id: c } });
    expect(answered(await send('POST', `/conversations/${c}/participants/ADD`, [{ user_id: people[1] }])).status).toBe(502);
    expect(answered(await send('POST', `/conversations/${c}`, { name: 'x' })).status).toBe(502);
    expect(json(await send('POST', `/conversations/${c}`, { name: 'y' }))).toMatchObject({ data: { name: 'y' } });
    expect(roles(c)).toEqual({ [bot]: 'OWNER', [people[0]!]: '', [people[1]!]: '' });
    expect(m.lost.map((l) => [l.path, l.as])).toEqual([
      [`/conversations/${c}/participants/ADD`, 502],
      [`/conversations/${c}`, 502],
    ]);
    expect(m.writeCalls().map((x) => x.lost)).toEqual([undefined, 502, 502, undefined]);
  });

  it('lostResponseRatio 1 loses every successful write and no read', async () => {
    await m.stop();
    await start({ lostResponseRatio: 1, lostResponseAs: 'drop' });
    const create = writes['POST /conversations']!;
    const w = await create();
    expect(await send(w.method, w.path, w.body)).toMatchObject({ error: 'UND_ERR_SOCKET' });
    w.check();
    const c = [...m.conversations.keys()][0]!;
    expect(json(await send('POST', '/users/fetch', [people[0]]))).toMatchObject({ data: [{ user_id: people[0] }] });
    expect(json(await send('GET', '/me'))).toMatchObject({ data: { user_id: bot } });
    expect(await send('POST', `/conversations/${c}/participants/ADD`, [{ user_id: people[0] }])).toMatchObject({ error: 'UND_ERR_SOCKET' });
    expect(json(await send('POST', `/conversations/${c}/participants/REMOVE`, [{ user_id: bot }]))).toMatchObject({ error: { code: 403 } });
    expect(roles(c)).toEqual({ [bot]: 'OWNER', [people[0]!]: '', [people[1]!]: '' });
    expect(m.lost.map((l) => l.as)).toEqual(['drop', 'drop']);
  });
});
