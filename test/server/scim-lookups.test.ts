import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GROUP, PATCH, q, startPushApp, TOKEN, USER, type PushApp } from '../sources/scim-push-app.js';

let app: PushApp;
beforeEach(async () => {
  app = await startPushApp();
});
afterEach(async () => {
  await app.close();
});

/** one request as the IdP sends it, with what a client can see of the answer */
async function get(base: string, path: string, opts: { method?: 'GET' | 'HEAD'; authorization?: string | null } = {}) {
  const authorization = opts.authorization === undefined ? `Bearer ${TOKEN}` : opts.authorization;
  const res = await request(base + path, { method: opts.method ?? 'GET', headers: authorization ? { authorization } : {} });
  return { status: res.statusCode, type: res.headers['content-type'], etag: res.headers.etag !== undefined, body: await res.body.text() };
}

/** a request written as it stands on the wire (a fragment, a body on a GET): status and body */
async function raw(base: string, target: string, headers: string[] = [], body = ''): Promise<{ status: number; body: string }> {
  const { hostname, port, pathname } = new URL(base);
  const socket = connect(Number(port), hostname);
  const head = [`GET ${pathname}${target} HTTP/1.1`, `host: ${hostname}:${port}`, `authorization: Bearer ${TOKEN}`, 'connection: close', ...headers];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  let text = '';
  for await (const chunk of socket) text += String(chunk);
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
  const [, ...rest] = text.split('\r\n\r\n');
  return { status, body: rest.join('\r\n\r\n') };
}

async function directory() {
  const post = async (path: string, body: object) => {
    const res = await app.scim('POST', path, body);
    expect(res.status, JSON.stringify(res.json)).toBe(201);
    return res.json.id as string;
  };
  const ann = await post('/Users', {
    schemas: [USER],
    userName: 'ann@example.com',
    externalId: 'ext-ann',
    active: true,
    emails: [{ type: 'work', value: 'ann@corp.example', primary: true }],
  });
  const bob = await post('/Users', { schemas: [USER], userName: 'bob@example.com', active: false, name: { givenName: 'Bob' } });
  const inner = await post('/Groups', { schemas: [GROUP], displayName: 'inner', members: [{ value: bob }] });
  const team = await post('/Groups', { schemas: [GROUP], displayName: 'team-a b', externalId: 'gx-1', members: [{ value: ann }, { value: inner }] });
  return { ann, bob, inner, team };
}

describe('SCIM look-ups answered before Express', () => {
  it('answers every successful look-up as the Express routes do, byte for byte, and leaves every other request to them', async () => {
    const { ann, bob, inner, team } = await directory();
    const answered = [
      '/Users',
      '/Users?startIndex=2&count=1',
      '/Users?count=0',
      '/Users?count=1&count=2',
      `/Users?${q('userName eq "ANN@example.com"')}&startIndex=1&count=100`,
      `/Users?${q('userName eq "nobody@example.com"')}`,
      `/Users?${q('externalId eq "ext-ann"')}`,
      `/Users?${q(`id eq "${bob}"`)}`,
      `/Users?${q('emails[type eq "work"].value eq "ann@corp.example"')}`,
      `/Users?${q('userName eq "ann@example.com"')}&attributes=userName`,
      `/Users/${ann}`,
      `/Users/${encodeURIComponent(bob)}?excludedAttributes=name`,
      '/Groups',
      '/Groups?excludedAttributes=members&startIndex=2&count=1',
      '/Groups?attributes=displayName',
      `/Groups?excludedAttributes=members&${q('displayName eq "team-a b"')}`,
      `/Groups?${q('externalId eq "gx-1"')}`,
      `/Groups?excludedAttributes=members&${q(`id eq "${team}" and members eq "${ann}"`)}`,
      `/Groups?excludedAttributes=members&${q(`id eq "${team}" and members[value eq "${bob}"]`)}`,
      `/Groups/${team}`,
      `/Groups/${inner}?excludedAttributes=members`,
    ];
    const leftToExpress = [
      `/Users/${ann}x`,
      '/Groups/no-such-group',
      `/Users?${q('nickName eq "x"')}`,
      `/Users?${q('userName eq')}`,
      '/Users/%E0%A4%A',
      '/users',
      '/Users/',
      '/Users/a/b',
      '/Schemas',
      '/ServiceProviderConfig',
    ];
    const seen: string[] = [];
    for (const path of answered) {
      const fast = await get(app.url, path);
      const plain = await get(app.expressUrl, path);
      expect({ path, ...fast, etag: undefined }).toEqual({ path, ...plain, etag: undefined });
      expect(fast.status, path).toBe(200);
      // Express adds a weak ETag to what it sends; these answers never went through it
      expect({ path, etag: fast.etag }).toEqual({ path, etag: false });
      seen.push(fast.body);
    }
    expect(seen.filter((b) => b.includes(ann)).length).toBeGreaterThan(8);
    for (const path of leftToExpress) {
      const fast = await get(app.url, path);
      const plain = await get(app.expressUrl, path);
      expect({ path, ...fast }).toEqual({ path, ...plain });
      expect({ path, etag: fast.etag }).toEqual({ path, etag: true });
    }
    // a HEAD, no token, a wrong token: as ever
    for (const opts of [{ method: 'HEAD' as const }, { authorization: null }, { authorization: 'Bearer wrong' }, { authorization: `Basic ${TOKEN}` }]) {
      const fast = await get(app.url, '/Users', opts);
      expect({ opts, ...fast }).toEqual({ opts, ...(await get(app.expressUrl, '/Users', opts)) });
      expect(fast.etag || fast.status === 401, JSON.stringify(opts)).toBe(true);
    }
    expect((await get(app.url, '/Users', { authorization: `bearer ${TOKEN}` })).status).toBe(200);
  });

  it('lists resources whose answers are not stored (written before answers were) by rendering and storing them', async () => {
    const { ann, team } = await directory();
    const before = { users: (await get(app.url, '/Users')).body, groups: (await get(app.url, '/Groups')).body };
    const db = new Database(app.storePath);
    db.prepare(`DELETE FROM push_rendered WHERE id IN (?, ?)`).run(ann, team);
    db.close();
    expect(app.store.push.rendered.get('idp', 'User', ann)).toBeUndefined();
    const users = await get(app.url, '/Users');
    expect(users).toMatchObject({ status: 200, etag: false, body: before.users });
    expect(app.store.push.rendered.get('idp', 'User', ann)).toBeDefined();
    expect((await get(app.url, '/Groups')).body).toBe(before.groups);
    expect(app.store.push.rendered.get('idp', 'Group', team)).toBeDefined();
  });

  it('leaves to Express what it reads beyond the path, query and token: a fragment, a body on a GET, a condition', async () => {
    await directory();
    const same = async (target: string, headers: string[] = [], body = '') => {
      const fast = await raw(app.url, target, headers, body);
      expect({ target, headers, ...fast }).toEqual({ target, headers, ...(await raw(app.expressUrl, target, headers, body)) });
      return fast;
    };
    // Express cuts the target at '#'
    expect(JSON.parse((await same('/Users?count=1#x')).body).itemsPerPage).toBe(1);
    expect((await same(`/Users?${q('userName eq "ann')}#@example.com%22`)).status).toBe(400);
    // a body is parsed and checked on a GET too
    expect((await same('/Users', ['content-type: application/scim+json', 'content-length: 4'], '{bad')).status).toBe(400);
    expect((await same('/Users', ['content-type: application/scim+json; charset=latin1', 'content-length: 0'])).status).toBe(415);
    expect((await same('/Users', ['content-type: application/scim+json', 'transfer-encoding: chunked'], '4\r\n{bad\r\n0\r\n\r\n')).status).toBe(400);
    // a conditional GET Express answers 304
    expect((await same('/Users', ['if-none-match: *'])).status).toBe(304);
    expect(app.requests.filter((r) => r === 'GET 304')).toHaveLength(2);
  });

  it('logs a failure that is no SCIM error before Express reads the request again', async () => {
    const { team } = await directory();
    const memberRefs = app.store.push.memberRefs.bind(app.store.push);
    let failures = 1;
    app.store.push.memberRefs = (source, id) => {
      if (failures-- > 0) throw new Error('disk I/O error');
      return memberRefs(source, id);
    };
    expect((await get(app.url, `/Groups/${team}`)).status).toBe(200);
    expect(app.logs.join('')).toContain('disk I/O error');
    // the Error whole: where in convsync it failed
    expect(app.logs.join('')).toContain('"stack"');
    app.logs.length = 0;
    expect((await get(app.url, '/Groups/nope')).status).toBe(404);
    expect(app.logs).toEqual([]);
    // failing again in the routes: one line for the request, not two
    failures = 2;
    expect((await get(app.url, `/Groups/${team}`)).status).toBe(500);
    expect(app.logs.filter((l) => l.includes('disk I/O error'))).toHaveLength(1);
    // failing otherwise in the routes: that is logged too
    app.logs.length = 0;
    let calls = 0;
    app.store.push.memberRefs = () => {
      throw new Error(calls++ === 0 ? 'disk I/O error' : 'another fault');
    };
    expect((await get(app.url, `/Groups/${team}`)).status).toBe(500);
    expect(
      app.logs.filter((l) => l.includes('"level":50')).map((l) => (l.includes('another fault') ? 'another' : l.includes('disk I/O') ? 'disk' : l)),
    ).toEqual(['disk', 'another']);
    app.store.push.memberRefs = (source, id) => {
      if (failures-- > 0) throw new Error('disk I/O error');
      return memberRefs(source, id);
    };
    // one the look-up leaves to the routes (a condition), failing there, is logged there
    app.logs.length = 0;
    failures = 1;
    expect((await raw(app.url, `/Groups/${team}`, ['if-none-match: "x"'])).status).toBe(500);
    expect(app.logs.filter((l) => l.includes('disk I/O error') && l.includes('"level":50'))).toHaveLength(1);
  });

  it('counts each request once, answers what was just written, and reads the token file as it is now', async () => {
    const { ann, team } = await directory();
    app.requests.length = 0;
    await get(app.url, `/Groups/${team}`);
    await get(app.url, '/Groups/nope');
    await get(app.url, '/Users', { authorization: 'Bearer wrong' });
    expect(app.requests).toEqual(['GET 200', 'GET 404', 'GET 401']);

    const patched = await app.scim('PATCH', `/Groups/${team}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'replace', path: 'displayName', value: 'team-renamed' },
        { op: 'remove', path: `members[value eq "${ann}"]` },
      ],
    });
    expect(patched.status).toBe(204);
    const after = JSON.parse((await get(app.url, `/Groups/${team}`)).body);
    expect(after.displayName).toBe('team-renamed');
    expect(after.members.map((m: { value: string }) => m.value)).not.toContain(ann);
    expect(JSON.parse((await get(app.url, `/Groups?${q('displayName eq "team-renamed"')}`)).body).totalResults).toBe(1);

    // a token rotated in its file is the only one taken from the next request on
    writeFileSync(app.tokenFile, 'rotated-token\n');
    expect((await get(app.url, '/Users')).status).toBe(401);
    const rotated = await get(app.url, '/Users', { authorization: 'Bearer rotated-token' });
    expect(rotated).toMatchObject({ status: 200, etag: false });
  });
});
