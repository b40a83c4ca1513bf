import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema.js';
import { bearerMatches } from '../../src/server/auth.js';
import { GROUP, PATCH, q, SEARCH, SOURCE, startPushApp, TOKEN, USER, type PushApp } from './scim-push-app.js';

let app: PushApp;
beforeEach(async () => {
  app = await startPushApp();
});
afterEach(async () => {
  await app.close();
});

async function user(userName: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await app.scim('POST', '/Users', { schemas: [USER], userName, active: true, ...extra });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return res.json.id as string;
}

async function group(displayName: string, members: string[] = [], extra: Record<string, unknown> = {}): Promise<string> {
  const res = await app.scim('POST', '/Groups', { schemas: [GROUP], displayName, members: members.map((value) => ({ value })), ...extra });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return res.json.id as string;
}

describe('SCIM push filters', () => {
  it('answers displayName eq "Board Members" with that group: a value with the word members is no membership check', async () => {
    const a = await user('a@example.com');
    const board = await group('Board Members', [a]);
    await group('Members');
    const lookup = await app.scim('GET', `/Groups?${q('displayName eq "Board Members"')}&excludedAttributes=members`);
    expect(lookup.status, JSON.stringify(lookup.json)).toBe(200);
    expect(lookup.json).toMatchObject({ totalResults: 1, itemsPerPage: 1, startIndex: 1, Resources: [{ id: board, displayName: 'Board Members' }] });
    expect(lookup.json.Resources[0]).not.toHaveProperty('members');
    const full = await app.scim('GET', `/Groups?${q('displayName eq "Board Members"')}`);
    expect(full.json.Resources[0].members).toEqual([{ value: a, type: 'User' }]);
    // exact, as group names are unique exactly
    expect((await app.scim('GET', `/Groups?${q('displayName eq "board members"')}`)).json.totalResults).toBe(0);
  });

  it('answers the membership checks Entra and Okta send, in each form, from the group and member given', async () => {
    const [a, b] = [await user('a@example.com'), await user('b@example.com')];
    const inner = await group('inner', [b]);
    const g = await group('team', [a, inner]);
    const forms = [
      `id eq "${g}" and members eq "${a}"`,
      `members eq "${a}" and id eq "${g}"`,
      `id eq "${g}" and members[value eq "${a}"]`,
      `id eq "${g}" and members.value eq "${a}"`,
    ];
    for (const f of forms) {
      const res = await app.scim('GET', `/Groups?${q(f)}&excludedAttributes=members`);
      expect(res.json, f).toMatchObject({ totalResults: 1, Resources: [{ id: g }] });
    }
    expect((await app.scim('GET', `/Groups?${q(`id eq "${g}" and members eq "${b}"`)}`)).json.totalResults).toBe(0);
    // every group a member is directly in
    const of = await app.scim('GET', `/Groups?${q(`members[value eq "${b}"]`)}&excludedAttributes=members`);
    expect(of.json.Resources.map((r: { id: string }) => r.id)).toEqual([inner]);
    const both = await app.scim('GET', `/Groups?${q(`members[value eq "${a}"] and members[value eq "${inner}"]`)}&excludedAttributes=members`);
    expect(both.json.Resources.map((r: { id: string }) => r.id)).toEqual([g]);
  });

  it('finds users by userName without regard to case, as userName is unique (RFC 7643 §4.1.1), and by externalId and work email exactly', async () => {
    const id = await user('Alice@Example.com', { externalId: 'ext-1', emails: [{ type: 'work', value: 'alice@corp.example', primary: true }] });
    for (const f of [
      'userName eq "alice@example.com"',
      'USERNAME eq "ALICE@EXAMPLE.COM"',
      'externalId eq "ext-1"',
      'emails[type eq "work"].value eq "alice@corp.example"',
      `id eq "${id}"`,
    ]) {
      expect((await app.scim('GET', `/Users?${q(f)}`)).json, f).toMatchObject({ totalResults: 1, Resources: [{ id, userName: 'Alice@Example.com' }] });
    }
    for (const f of ['externalId eq "EXT-1"', 'emails[type eq "home"].value eq "alice@corp.example"', 'userName eq "alice@example.com" and active eq false']) {
      expect((await app.scim('GET', `/Users?${q(f)}`)).json.totalResults, f).toBe(0);
    }
    expect((await app.scim('POST', '/Users', { schemas: [USER], userName: 'alice@example.com' })).status).toBe(409);
  });

  it('refuses a filter no index can answer with 400 invalidFilter saying which filters can be answered', async () => {
    await user('a@example.com');
    const cases: [string, string, RegExp][] = [
      ['/Users', 'active eq true', /must compare userName, id, externalId or emails\.value with eq/],
      ['/Users', 'userName eq "a@example.com" or active eq true', /each alternative must compare/],
      ['/Users', 'userName ne "a@example.com"', /must compare userName/],
      ['/Users', 'not (userName eq "a@example.com")', /must compare userName/],
      ['/Users', 'meta.lastModified gt "2020-01-01T00:00:00Z"', /must compare userName/],
      ['/Groups', 'displayName co "Board"', /must compare displayName, id, externalId or members\.value with eq/],
      ['/Groups', 'members[display eq "a"]', /members can be filtered only by their value with eq/],
      ['/Users', 'userName zz "a"', /cannot be parsed: Unexpected token/],
      ['/Users', 'userName', /cannot be parsed: expected attribute, operator and value/],
      ['/Users', '(userName eq "a"', /cannot be parsed: Missing closing/],
    ];
    for (const [path, filter, detail] of cases) {
      const res = await app.scim('GET', `${path}?${q(filter)}`);
      expect(res.status, filter).toBe(400);
      expect(res.json, filter).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '400', scimType: 'invalidFilter' });
      expect(res.json.detail, filter).toMatch(detail);
    }
    const empty = await app.scim('GET', '/Users?filter=');
    expect(empty).toMatchObject({ status: 400, json: { scimType: 'invalidFilter' } });
  });
});

describe('SCIM push listings and searches', () => {
  it('pages a listing in id order by startIndex and count, with count capped at the advertised maxResults', async () => {
    const now = new Date().toISOString();
    const ids = Array.from({ length: 450 }, (_, i) => `u-${String(i).padStart(4, '0')}`);
    app.store.push.transaction(() => {
      for (const id of [...ids].reverse())
        app.store.push.putUser(SOURCE, { id, userName: `${id}@example.com`, active: true, resource: { userName: `${id}@example.com` } }, now);
    });
    const seen: string[] = [];
    for (let start = 1; start <= 450; start += 100) {
      const page = await app.scim('GET', `/Users?startIndex=${start}&count=100`);
      expect(page.json).toMatchObject({ totalResults: 450, startIndex: start, itemsPerPage: Math.min(100, 451 - start) });
      seen.push(...page.json.Resources.map((r: { id: string }) => r.id));
    }
    expect(seen).toEqual(ids);
    // a page read in turn starts after the previous page's last id; a write moves every position after it
    const page2 = async () => (await app.scim('GET', '/Users?startIndex=101&count=100')).json.Resources.map((r: { id: string }) => r.id);
    expect(await app.scim('GET', '/Users?startIndex=1&count=100')).toMatchObject({ status: 200 });
    expect((await app.scim('DELETE', `/Users/${ids[5]}`)).status).toBe(204);
    ids.splice(5, 1);
    expect(await page2()).toEqual(ids.slice(100, 200));
    app.store.push.putUser(SOURCE, { id: 'u-0000a', userName: 'early@example.com', active: true, resource: { userName: 'early@example.com' } }, now);
    ids.splice(1, 0, 'u-0000a');
    expect(await page2()).toEqual(ids.slice(100, 200));
    const capped = await app.scim('GET', '/Users?count=1000&startIndex=101');
    expect(capped.json).toMatchObject({ totalResults: 450, itemsPerPage: 200 });
    expect(capped.json.Resources.map((r: { id: string }) => r.id)).toEqual(ids.slice(100, 300));
    expect((await app.scim('GET', '/Users?count=0')).json).toMatchObject({ totalResults: 450, itemsPerPage: 0, Resources: [] });
    expect((await app.scim('GET', '/Users?startIndex=1000')).json).toMatchObject({ totalResults: 450, Resources: [] });
    expect((await app.scim('GET', '/Users')).json.itemsPerPage).toBe(20);
    expect((await app.scim('GET', '/ServiceProviderConfig')).json).toMatchObject({ filter: { supported: true, maxResults: 200 }, sort: { supported: false } });
  });

  it('shows each resource as last written: its stored answer is rendered again by every write of it', async () => {
    const a = await user('a@example.com', { displayName: 'A' });
    const b = await user('b@example.com');
    const g = await group('team', [a]);
    const listed = async () => (await app.scim('GET', '/Users?count=10')).json.Resources as { id: string; displayName?: string; active: boolean }[];
    const groupsListed = async () => (await app.scim('GET', '/Groups?count=10')).json.Resources as { displayName: string; members: { value: string }[] }[];
    expect((await listed()).find((u) => u.id === a)).toMatchObject({ displayName: 'A', active: true });
    expect(await groupsListed()).toMatchObject([{ displayName: 'team', members: [{ value: a }] }]);
    expect(app.store.push.rendered.get(SOURCE, 'User', a)).toBeDefined();

    expect(
      (await app.scim('PATCH', `/Users/${a}`, { schemas: [PATCH], Operations: [{ op: 'replace', value: { displayName: 'A2', active: false } }] })).status,
    ).toBe(200);
    // rendered again by the write itself, not at the next read
    expect(JSON.parse(app.store.push.rendered.get(SOURCE, 'User', a)!)).toMatchObject({ displayName: 'A2', active: false });
    expect((await listed()).find((u) => u.id === a)).toMatchObject({ displayName: 'A2', active: false });
    expect((await app.scim('GET', `/Users?${q('userName eq "a@example.com"')}`)).json.Resources[0]).toMatchObject({ displayName: 'A2' });

    expect(
      (
        await app.scim('PATCH', `/Groups/${g}`, {
          schemas: [PATCH],
          Operations: [
            { op: 'replace', path: 'displayName', value: 'renamed' },
            { op: 'add', path: 'members', value: [{ value: b }] },
          ],
        })
      ).status,
    ).toBe(204);
    expect(await groupsListed()).toMatchObject([
      { displayName: 'renamed', members: [{ value: a }, { value: b }].sort((x, y) => (x.value < y.value ? -1 : 1)) },
    ]);
    expect((await app.scim('DELETE', `/Users/${b}`)).status).toBe(204);
    expect((await groupsListed())[0]!.members).toEqual([{ value: a, type: 'User' }]);
    expect((await listed()).map((u) => u.id)).toEqual([a]);
  });

  it('answers POST .search on Users, on Groups and on both from the same indexes', async () => {
    const a = await user('a@example.com', { externalId: 'shared' });
    const g = await group('team', [a], { externalId: 'shared' });
    const search = (path: string, body: Record<string, unknown>) => app.scim('POST', path, { schemas: [SEARCH], ...body });
    expect((await search('/Users/.search', { filter: 'userName eq "a@example.com"' })).json).toMatchObject({ totalResults: 1, Resources: [{ id: a }] });
    const groups = await search('/Groups/.search', { filter: 'displayName eq "team"', excludedAttributes: ['members'] });
    expect(groups.json).toMatchObject({ totalResults: 1, Resources: [{ id: g }] });
    expect(groups.json.Resources[0]).not.toHaveProperty('members');
    const both = await search('/.search', { filter: 'externalId eq "shared"' });
    expect(both.json.Resources.map((r: { id: string }) => r.id)).toEqual([a, g]);
    // a filter on an attribute only users have is answered from the users alone
    expect((await search('/.search', { filter: 'userName eq "a@example.com"' })).json).toMatchObject({ totalResults: 1, Resources: [{ id: a }] });
    expect((await search('/.search', { startIndex: 2, count: 5 })).json).toMatchObject({ totalResults: 2, Resources: [{ id: g }] });
    expect((await search('/Users/.search', { filter: 'active eq true' })).json).toMatchObject({ status: '400', scimType: 'invalidFilter' });
    expect((await search('/Users/.search', { count: -1 })).status).toBe(400);
  });
});

describe('SCIM push resources by id', () => {
  it('answers GET /Users/{id} and /Groups/{id} as scimmy rendered them, members only when asked for, and 404 for an unknown id', async () => {
    const made = await app.scim('POST', '/Users', { schemas: [USER], userName: 'a@example.com', displayName: 'A', active: true });
    const a = made.json.id as string;
    const one = await app.scim('GET', `/Users/${a}`);
    expect(one.status).toBe(200);
    expect(one.json).toEqual(made.json);
    // a projection as scimmy makes it, as in a listing
    const listed = await app.scim('GET', `/Users?${q(`id eq "${a}"`)}&attributes=displayName`);
    expect((await app.scim('GET', `/Users/${a}?attributes=displayName`)).json).toEqual(listed.json.Resources[0]);
    expect(listed.json.Resources[0]).toMatchObject({ id: a, displayName: 'A' });
    expect(listed.json.Resources[0]).not.toHaveProperty('userName');
    const g = await group('eng', [a]);
    const withMembers = await app.scim('GET', `/Groups/${g}`);
    expect(withMembers.json).toMatchObject({ schemas: [GROUP], id: g, displayName: 'eng', members: [{ value: a, type: 'User' }] });
    const without = await app.scim('GET', `/Groups/${g}?excludedAttributes=members`);
    expect(without.json).toMatchObject({ id: g, displayName: 'eng' });
    expect(without.json).not.toHaveProperty('members');
    for (const path of ['/Users/nobody', '/Groups/nothing']) {
      const missing = await app.scim('GET', path);
      expect(missing.status).toBe(404);
      expect(missing.json).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '404' });
    }
  });
});

describe('SCIM push requests', () => {
  it('accepts the bearer scheme in any case (RFC 7235 §2.1) and nothing but the token', async () => {
    for (const auth of [`bearer ${TOKEN}`, `BEARER ${TOKEN}`, `Bearer ${TOKEN}`, `bearer  ${TOKEN}`]) {
      expect((await app.scim('GET', '/Users', undefined, auth)).status, auth).toBe(200);
    }
    for (const auth of [`bearer wrong`, `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`, `Bearer${TOKEN}`, TOKEN, null]) {
      const res = await app.scim('GET', '/Users', undefined, auth);
      expect(res.status, String(auth)).toBe(401);
      expect(res.json.detail).not.toContain(TOKEN);
    }
    expect(bearerMatches(`bEaReR ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`Bearer ${TOKEN}x`, TOKEN)).toBe(false);
  });

  it('fails a PATCH naming unknown members as a whole, names every unknown member, and changes nothing', async () => {
    const [a, b] = [await user('a@example.com'), await user('b@example.com')];
    const g = await group('team', [a]);
    const changesBefore = app.changes.length;
    const add = await app.scim('PATCH', `/Groups/${g}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'Replace', path: 'displayName', value: 'renamed' },
        { op: 'Add', path: 'members', value: [{ value: b }, { value: 'gone-1' }, { value: a }, { value: 'gone-2' }, { value: 'gone-1' }] },
      ],
    });
    expect(add.status).toBe(400);
    expect(add.json).toMatchObject({ scimType: 'invalidValue' });
    expect(add.json.detail).toBe('2 members are not known Users or Groups of this service provider, so nothing was changed: gone-1, gone-2');
    const after = await app.scim('GET', `/Groups/${g}`);
    expect(after.json).toMatchObject({ displayName: 'team', members: [{ value: a }] });
    expect(app.changes.length).toBe(changesBefore);

    const one = await app.scim('PATCH', `/Groups/${g}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: 'members', value: [{ value: b }, { value: 'gone-3' }] }],
    });
    expect(one.json.detail).toBe('member is not a known User or Group of this service provider, so nothing was changed: gone-3');
    const many = Array.from({ length: 130 }, (_, i) => ({ value: `x-${i}` }));
    const lots = await app.scim('PATCH', `/Groups/${g}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: many }] });
    expect(lots.json.detail).toMatch(/^130 members are not known .*: x-0, x-1, .*, x-99 and 30 more$/);
    expect((await app.scim('POST', '/Groups', { schemas: [GROUP], displayName: 'new', members: [{ value: 'gone-4' }] })).json.detail).toMatch(/gone-4$/);
    expect((await app.scim('GET', `/Groups?${q('displayName eq "new"')}`)).json.totalResults).toBe(0);
    expect((await app.scim('GET', `/Groups/${g}`)).json.members).toEqual([{ value: a, type: 'User' }]);

    // the known ones go in once the request names only known members
    expect((await app.scim('PATCH', `/Groups/${g}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: b }] }] })).status).toBe(
      204,
    );
    expect(app.changes.at(-1)).toEqual([`${SOURCE}:${g}`]);
  });
});

describe('SCIM push writes the store cannot make', () => {
  const failures = () => app.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'SCIM push request failed');

  it('answers a create, a replace or a delete the store fails with 500, never 404 (a delete would pass for done), logs why, and keeps what it held', async () => {
    const a = await user('a@example.com', { emails: [{ value: 'a@corp.example', type: 'work' }] });
    const changesBefore = app.changes.length;
    const other = new Database(app.storePath);
    // a table every write of a user needs, gone: the write fails inside its transaction, after its first statement
    other.exec('DROP TABLE push_user_emails');
    other.close();
    const created = await app.scim('POST', '/Users', { schemas: [USER], userName: 'b@example.com', active: true });
    const replaced = await app.scim('PUT', `/Users/${a}`, { schemas: [USER], userName: 'a2@example.com', active: false });
    const deleted = await app.scim('DELETE', `/Users/${a}`);
    for (const res of [created, replaced, deleted]) expect(res).toMatchObject({ status: 500, json: { status: '500', detail: 'internal error' } });
    expect((await app.scim('GET', `/Users/${a}`)).json).toMatchObject({ userName: 'a@example.com', active: true });
    expect((await app.scim('GET', `/Users?${q('userName eq "b@example.com"')}`)).json.totalResults).toBe(0);
    expect(app.changes.length).toBe(changesBefore);
    // logged once each, after the answer was sent
    expect(failures().map((l) => l.code)).toEqual(['SQLITE_ERROR', 'SQLITE_ERROR', 'SQLITE_ERROR']);
    expect((failures()[0]!.err as { message: string; stack: string }).message).toMatch(/push_user_emails/);
  });

  it('answers POST /Bulk 501, as /ServiceProviderConfig says bulk is not supported, and logs no failure', async () => {
    const res = await app.scim('POST', '/Bulk', { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: [] });
    expect(res.status).toBe(501);
    // a failure is logged after its answer: the next answer comes after it
    await app.scim('GET', '/Users');
    expect(failures()).toEqual([]);
  });

  it('stores neither a created user nor its answer when the answer cannot be stored, so that the IdP sends the create again, not a duplicate', async () => {
    const other = new Database(app.storePath);
    other.exec(`CREATE TRIGGER no_answers BEFORE INSERT ON push_rendered BEGIN SELECT RAISE(ABORT, 'answers refused'); END`);
    const body = { schemas: [USER], userName: 'n@example.com', active: true };
    expect(await app.scim('POST', '/Users', body)).toMatchObject({ status: 500, json: { detail: 'internal error' } });
    expect(app.store.push.userByName(SOURCE, 'n@example.com')).toBeUndefined();
    other.exec('DROP TRIGGER no_answers');
    other.close();
    expect((await app.scim('POST', '/Users', body)).status).toBe(201);
    expect((failures()[0]!.err as { message: string }).message).toBe('answers refused');
  });

  it('answers 500 "the store is busy" when another writer holds the store past the wait, and writes nothing', async () => {
    const g = await group('team');
    const other = new Database(app.storePath);
    other.exec('BEGIN IMMEDIATE');
    // the server waits for the lock (5 s) on this thread, then gives up: scimmy's route, then the provider's own
    const res = await app.scim('POST', '/Users', { schemas: [USER], userName: 'late@example.com', active: true });
    const patched = await app.scim('PATCH', `/Groups/${g}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'renamed' }] });
    other.exec('ROLLBACK');
    other.close();
    for (const r of [res, patched]) expect(r).toMatchObject({ status: 500, json: { detail: 'the store is busy; send the request again' } });
    expect((await app.scim('GET', `/Users?${q('userName eq "late@example.com"')}`)).json.totalResults).toBe(0);
    expect((await app.scim('GET', `/Groups/${g}`)).json.displayName).toBe('team');
    expect(failures().map((l) => l.code)).toEqual(['SQLITE_BUSY', 'SQLITE_BUSY']);
    expect((await app.scim('POST', '/Users', { schemas: [USER], userName: 'late@example.com', active: true })).status).toBe(201);
  }, 30_000);
});

describe('push and SAML paths in the configuration', () => {
  const base = {
    store: { path: '/tmp/x.db' },
    backend: { type: 'wire', baseUrl: 'https://wire.test', email: 'bot@corp.test', password: 'unused' },
    mappings: [{ match: { displayName: '.*' }, name: '{displayName}' }],
  };
  const push = (name: string, path: string) => ({ name, type: 'scim-push', path, token: 't' });
  const saml = (name: string, path: string) => ({
    name,
    type: 'saml',
    path,
    publicUrl: 'https://convsync.test',
    idp: { metadataFile: '/nonexistent/idp.xml' },
  });
  const issues = (sources: unknown[]) => {
    const r = ConfigSchema.safeParse({ ...base, sources });
    return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  };

  it('refuses paths that overlap, naming both', () => {
    expect(issues([push('entra', '/scim'), push('okta', '/scim/v2')])).toEqual([
      {
        path: 'sources.1.path',
        message: '/scim/v2 (source "okta") overlaps /scim (source "entra"): give each source a path that is not the other\'s or inside it',
      },
    ]);
    const [againstSaml] = issues([push('entra', '/scim/v2'), saml('sso', '/scim/v2/saml')]);
    expect(againstSaml).toMatchObject({ path: 'sources.1.path' });
    expect(againstSaml!.message).toContain('/scim/v2/saml');
    expect(againstSaml!.message).toMatch(/overlaps \/scim\/v2 \(source "entra"\)/);
    expect(issues([push('a', '/SCIM'), push('b', '/scim/v2')])[0]!.message).toMatch(/\/scim\/v2 .* overlaps \/SCIM/);
    expect(issues([push('a', '/scim/v2'), push('b', '/scim/v2')])).toHaveLength(1);
  });

  it('accepts paths that only share a prefix of characters', () => {
    expect(issues([push('a', '/scim'), push('b', '/scim2'), saml('sso', '/saml'), saml('sso2', '/saml-b')])).toEqual([]);
  });
});
