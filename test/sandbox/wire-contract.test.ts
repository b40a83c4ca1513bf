import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WireSandbox } from '../../src/sandbox/wire/server.js';

/** The fake answers as reference/wire-api.md §7 says the real server does. */
let wire: WireSandbox;
let token = '';
let cookie = '';
let memberToken = '';
let people: string[] = [];
const D = () => wire.domain;

async function call(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
  auth: string | null = token,
  headers: Record<string, string> = {},
) {
  const res = await request(wire.url + path, {
    method,
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json: json as Record<string, any>, text, headers: res.headers };
}

async function login(email: string, password: string, persist = true, label = 'test') {
  const res = await call('POST', `/v9/login?persist=${persist}`, { email, password, label }, null);
  const c = /zuid=([^;]+)/.exec(String(res.headers['set-cookie']))?.[1] ?? '';
  return { token: res.json.access_token as string, cookie: c, res };
}

const q = (id: string) => ({ id, domain: D() });

beforeAll(async () => {
  wire = await WireSandbox.start({ maxConvSize: 5 });
  wire.addUser({ email: 'admin@example.com', password: 'password1' });
  wire.addUser({ email: 'member@example.com', password: 'password2' });
  people = Array.from({ length: 6 }, (_, i) => wire.addUser({ name: `p${i}` }).id);
  const a = await login('admin@example.com', 'password1');
  token = a.token;
  cookie = a.cookie;
  memberToken = (await login('member@example.com', 'password2')).token;
});
afterAll(async () => wire.stop());

describe('Wire sandbox contract', () => {
  it('serves /api-version unversioned and unauthenticated, /vN by version, and rejects the rest', async () => {
    const v = await call('GET', '/api-version', undefined, null);
    expect(v.json).toMatchObject({ supported: expect.arrayContaining([6, 7, 8, 9]), development: [16], domain: D(), federation: false });
    expect((await call('GET', '/v99/self')).json).toMatchObject({ code: 404, label: 'unsupported-version' });
    // routes that exist only up to v1 are absent under v9
    const conv = await call('POST', '/v9/conversations', { qualified_users: [], name: 'v', team: { teamid: wire.teamId, managed: false } });
    expect((await call('POST', `/v9/conversations/${conv.json.id}/members/v2`, { qualified_users: [q(people[0]!)] })).json).toMatchObject({
      label: 'no-endpoint',
    });
    expect((await call('GET', '/v9/self', undefined, null)).status).toBe(401);
  });

  it('creates with 201 and Location, needs team.managed, defaults invitees to wire_admin', async () => {
    const noManaged = await call('POST', '/v9/conversations', { qualified_users: [q(people[0]!)], team: { teamid: wire.teamId } });
    expect(noManaged.json).toMatchObject({ code: 400, label: 'bad-request' });
    const tooLong = await call('POST', '/v9/conversations', { name: 'x'.repeat(257), team: { teamid: wire.teamId, managed: false } });
    expect(tooLong.json).toMatchObject({ label: 'bad-request' });
    const ok = await call('POST', '/v9/conversations', { qualified_users: [q(people[0]!)], name: 'n', team: { teamid: wire.teamId, managed: false } });
    expect(ok.status).toBe(201);
    expect(ok.headers.location).toBe(ok.json.id);
    expect(ok.json.failed_to_add).toEqual([]);
    expect(ok.json.members.others).toEqual([expect.objectContaining({ qualified_id: q(people[0]!), conversation_role: 'wire_admin' })]);
    expect(ok.json.members.self.conversation_role).toBe('wire_admin');
    // the size rule: at most maxConvSize − 1 invitees (400 client-error, not too-many-members)
    const big = await call('POST', '/v9/conversations', { qualified_users: people.slice(0, 5).map(q), team: { teamid: wire.teamId, managed: false } });
    expect(big.json).toMatchObject({ code: 400, label: 'client-error' });
  });

  it('adds with 200 and an event, 204 when nobody is new, and enforces the size rule and roles', async () => {
    const c = await call('POST', '/v9/conversations', {
      qualified_users: [q(people[0]!)],
      team: { teamid: wire.teamId, managed: false },
      conversation_role: 'wire_member',
    });
    const path = `/v9/conversations/${D()}/${c.json.id}/members`;
    expect((await call('POST', path, { qualified_users: [] })).json).toMatchObject({ code: 400, label: 'bad-request' });
    expect((await call('POST', path, { qualified_users: [q(people[0]!)] })).status).toBe(204);
    const added = await call('POST', path, { qualified_users: [q(people[0]!), q(people[1]!)], conversation_role: 'wire_member' });
    expect(added.status).toBe(200);
    expect(added.json).toMatchObject({ type: 'conversation.member-join', qualified_conversation: q(c.json.id), conversation: c.json.id });
    expect(added.json.data.users.map((u: { id: string }) => u.id)).toEqual([people[1]]);
    // 3 members now; 3 new would make 6 > 5
    const full = await call('POST', path, { qualified_users: people.slice(2, 5).map(q) });
    expect(full.json).toMatchObject({ code: 403, label: 'too-many-members' });
    const unknown = await call('POST', path, { qualified_users: [q('99999999-9999-4999-8999-999999999999')] });
    expect(unknown.json).toMatchObject({ code: 403, label: 'access-denied' });
  });

  it('lets wire_member do nothing but leave; non-members get 404 on updates and 403 on GET', async () => {
    const c = await call('POST', '/v9/conversations', { qualified_users: [q(people[0]!)], team: { teamid: wire.teamId, managed: false } });
    const id = c.json.id as string;
    const member = [...wire.users.values()].find((u) => u.email === 'member@example.com')!;
    expect((await call('GET', `/v9/conversations/${D()}/${id}`, undefined, memberToken)).json).toMatchObject({ code: 403, label: 'access-denied' });
    expect((await call('PUT', `/v9/conversations/${D()}/${id}/name`, { name: 'x' }, memberToken)).json).toMatchObject({ code: 404, label: 'no-conversation' });
    expect((await call('GET', `/v9/conversations/${D()}/00000000-0000-4000-8000-000000000000`)).json).toMatchObject({ code: 404, label: 'no-conversation' });
    await call('POST', `/v9/conversations/${D()}/${id}/members`, { qualified_users: [q(member.id)], conversation_role: 'wire_member' });
    const denied = await call('POST', `/v9/conversations/${D()}/${id}/members`, { qualified_users: [q(people[1]!)] }, memberToken);
    expect(denied.json).toMatchObject({ code: 403, label: 'action-denied', message: 'Insufficient authorization (missing add_conversation_member)' });
    const left = await call('DELETE', `/v9/conversations/${D()}/${id}/members/${D()}/${member.id}`, undefined, memberToken);
    expect(left.json.data.reason).toBe('left');
  });

  it('removes with 200, 204 for a non-member; renames with 200 always and checks the length', async () => {
    const c = await call('POST', '/v9/conversations', { qualified_users: [q(people[0]!)], name: 'a', team: { teamid: wire.teamId, managed: false } });
    const id = c.json.id as string;
    expect((await call('DELETE', `/v9/conversations/${D()}/${id}/members/${D()}/${people[3]}`)).status).toBe(204);
    const removed = await call('DELETE', `/v9/conversations/${D()}/${id}/members/${D()}/${people[0]}`);
    expect(removed.json).toMatchObject({ type: 'conversation.member-leave', data: { reason: 'removed', qualified_user_ids: [q(people[0]!)] } });
    expect((await call('PUT', `/v9/conversations/${D()}/${id}/name`, { name: 'a' })).status).toBe(200);
    expect((await call('PUT', `/v9/conversations/${D()}/${id}/name`, { name: '' })).json).toMatchObject({ code: 400, label: 'client-error' });
    // delete: the tid segment is ignored
    expect((await call('DELETE', `/v9/teams/00000000-0000-4000-8000-000000000000/conversations/${id}`)).status).toBe(200);
    expect((await call('GET', `/v9/conversations/${D()}/${id}`)).status).toBe(404);
  });

  it('renews through /access with the cookie; refuses bad cookies; same-label login revokes older cookies', async () => {
    expect((await call('POST', '/access', undefined, null, { cookie: `zuid=${cookie}` })).status).toBe(200);
    expect((await call('POST', '/access', undefined, null, { cookie: 'zuid=forged' })).json).toMatchObject({
      code: 403,
      label: 'invalid-credentials',
      message: 'Invalid zauth token',
    });
    expect((await call('POST', '/access', undefined, null)).json).toMatchObject({ message: 'Missing cookie and token' });
    const again = await login('admin@example.com', 'password1', true, 'test');
    expect((await call('POST', '/access', undefined, null, { cookie: `zuid=${cookie}` })).status).toBe(403);
    expect((await call('POST', '/access', undefined, null, { cookie: `zuid=${again.cookie}` })).status).toBe(200);
    // the persistent cookie carries Expires; a session cookie does not and is never renewed
    expect(String(again.res.headers['set-cookie'])).toMatch(/Expires=/);
    const session = await login('admin@example.com', 'password1', false, 'session');
    expect(String(session.res.headers['set-cookie'])).not.toMatch(/Expires=/);
    wire.faults.renewCookieOnAccess = true;
    expect((await call('POST', '/access', undefined, null, { cookie: `zuid=${session.cookie}` })).headers['set-cookie']).toBeUndefined();
    expect((await call('POST', '/access', undefined, null, { cookie: `zuid=${again.cookie}` })).headers['set-cookie']).toMatch(/zuid=/);
    wire.faults.renewCookieOnAccess = false;
    expect((await login('admin@example.com', 'wrong-password')).res.json).toMatchObject({
      code: 403,
      label: 'invalid-credentials',
      message: 'Authentication failed',
    });
  });

  it('throttles with 420 and Retry-After, without Wire JSON', async () => {
    wire.faults.throttleEvery = 1;
    wire.faults.retryAfterSeconds = 7;
    const res = await call('GET', '/v9/self');
    wire.faults.throttleEvery = 0;
    expect(res.status).toBe(420);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.json).toBeUndefined();
  });
});
