import { request } from 'undici';
import { rawCall, type Method } from '../helpers/raw-http.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { LostAs } from '../../src/sandbox/lost-responses.js';
import { WireSandbox, type WireSandboxOptions } from '../../src/sandbox/wire/server.js';

/**
 * Drift in Wire's API that the fake reproduces (reference/wire-api-2026.md §2, §6): short
 * team-member pages, `via` on events, and lost answers on the new mutating routes. Raw HTTP.
 */
let wire: WireSandbox;
afterEach(async () => wire?.stop());

const call = (method: Method, path: string, body?: unknown, token?: string | null) => rawCall(wire.url, method, path, body, token);

async function start(opts: WireSandboxOptions = {}) {
  wire = await WireSandbox.start(opts);
  const admin = wire.addUser({ email: 'admin@example.com', password: 'password1', role: 'admin' }).id;
  const token = (await call('POST', '/v15/login', { email: 'admin@example.com', password: 'password1' }, null)).json.access_token as string;
  return { admin, token };
}

const q = (id: string) => ({ id, domain: wire.domain });
const team = () => ({ teamid: wire.teamId, managed: false });
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('team members', () => {
  it('filters non-searchable users out after paging: short (even empty) pages while hasMore is true', async () => {
    const { token } = await start();
    // the admin's id is random; these sort first, in this order
    for (let i = 1; i <= 6; i++) wire.addUser({ id: uuid(i), name: `u${i}`, searchable: ![1, 2, 4].includes(i) });
    const pages: { ids: string[]; hasMore: boolean }[] = [];
    let state: string | undefined;
    for (let n = 0; n < 10; n++) {
      const res = await call('GET', `/v15/teams/${wire.teamId}/members?maxResults=2${state ? `&pagingState=${state}` : ''}`, undefined, token);
      expect(res.status).toBe(200);
      pages.push({ ids: res.json.members.map((m: { user: string }) => m.user), hasMore: res.json.hasMore });
      state = res.json.pagingState;
      if (!res.json.hasMore) break;
    }
    expect(pages.slice(0, 3)).toEqual([
      { ids: [], hasMore: true },
      { ids: [uuid(3)], hasMore: true },
      { ids: [uuid(5), uuid(6)], hasMore: true },
    ]);
    expect(pages.flatMap((p) => p.ids).sort()).toEqual([uuid(3), uuid(5), uuid(6), [...wire.users.values()].find((u) => u.role === 'admin')!.id].sort());
    expect(pages.at(-1)!.hasMore).toBe(false);
  });

  it('shows a partner only itself', async () => {
    await start();
    wire.addUser({ email: 'partner@example.com', password: 'password9', role: 'partner' });
    const token = (await call('POST', '/v15/login', { email: 'partner@example.com', password: 'password9' }, null)).json.access_token as string;
    const res = await call('GET', `/v15/teams/${wire.teamId}/members`, undefined, token);
    expect(res.json.members.map((m: { user: string }) => m.user)).toEqual([[...wire.users.values()].find((u) => u.role === 'partner')!.id]);
    expect(res.json.hasMore).toBe(false);
  });
});

describe('events', () => {
  it('carry via: "user" at every version (required in the v15 Event schema)', async () => {
    const { token } = await start();
    const people = [wire.addUser({ name: 'a' }).id, wire.addUser({ name: 'b' }).id];
    for (const v of [6, 9, 15]) {
      const id = (await call('POST', `/v${v}/conversations`, { team: team() }, token)).json.qualified_id.id as string;
      const path = `/v${v}/conversations/${wire.domain}/${id}`;
      const join = await call('POST', `${path}/members`, { qualified_users: people.map(q) }, token);
      const leave = await call('DELETE', `${path}/members/${wire.domain}/${people[0]}`, undefined, token);
      const rename = await call('PUT', `${path}/name`, { name: 'n' }, token);
      const protocol = await call('PUT', `${path}/protocol`, { protocol: 'mixed' }, token);
      for (const e of [join, leave, rename, protocol]) {
        expect(e.status).toBe(200);
        expect(e.json).toMatchObject({
          via: 'user',
          qualified_conversation: q(id),
          qualified_from: q(wire.users.values().next().value!.id),
          time: expect.any(String),
        });
      }
    }
  });
});

describe('lost answers on the new mutating routes', () => {
  const kinds: LostAs[] = [502, 504, 'drop'];
  for (const as of kinds) {
    it(`applies PUT …/members, PUT …/protocol, app creation and app cookies, and loses their answers as ${as}`, async () => {
      const { admin, token } = await start({ features: { channels: true, mls: true } });
      const p = wire.addUser({ name: 'p' }).id;
      const id = (await call('POST', '/v15/conversations', { team: team(), qualified_users: [q(p)] }, token)).json.qualified_id.id as string;
      const conv = `/v15/conversations/${wire.domain}/${id}`;
      const lose = (method: string, path: string) => wire.loseResponses({ method, path, as });
      const lost = (status: number) => (as === 'drop' ? status === 0 : status === as);

      lose('PUT', `${conv}/members`);
      expect(lost((await call('PUT', `${conv}/members`, { qualified_users: [q(admin)] }, token)).status)).toBe(true);
      expect([...wire.conversations.get(id)!.members.keys()]).toEqual([admin]);

      lose('PUT', `${conv}/protocol`);
      expect(lost((await call('PUT', `${conv}/protocol`, { protocol: 'mixed' }, token)).status)).toBe(true);
      expect(wire.conversations.get(id)!.protocol).toBe('mixed');

      const apps = `/v15/teams/${wire.teamId}/apps`;
      lose('POST', apps);
      expect(lost((await call('POST', apps, { name: 'a', category: 'other', description: '', password: 'password1' }, token)).status)).toBe(true);
      const app = [...wire.users.values()].find((u) => u.type === 'app')!;
      expect(app).toBeDefined();

      const cookies = `${apps}/${app.id}/cookies`;
      const before = wire.refreshAppCookie(app.id);
      lose('POST', cookies);
      expect(lost((await call('POST', cookies, { password: 'password1' }, token)).status)).toBe(true);
      // applied: the cookie the client had is revoked
      expect((await request(`${wire.url}/access`, { method: 'POST', headers: { cookie: `zuid=${before}` } })).statusCode).toBe(403);

      expect(wire.lost.map((l) => [l.method, l.path, l.as])).toEqual([
        ['PUT', `${conv}/members`, as],
        ['PUT', `${conv}/protocol`, as],
        ['POST', apps, as],
        ['POST', cookies, as],
      ]);
      expect(
        wire
          .writeCalls()
          .filter((c) => c.lost)
          .map((c) => [c.method, c.status]),
      ).toEqual([
        ['PUT', 200],
        ['PUT', 200],
        ['POST', 200],
        ['POST', 200],
      ]);
      expect(wire.calls.find((c) => c.method === 'PUT' && c.path.endsWith('/members'))).toMatchObject({ conversation: id, users: [admin] });
    });
  }
});
