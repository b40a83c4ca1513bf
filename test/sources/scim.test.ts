import { pino } from 'pino';
import { MockAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { ScimSourceConfig } from '../../src/config/schema.js';
import { AuthError } from '../../src/errors.js';
import { sampleDirectory } from '../../src/sandbox/directory.js';
import { ScimSandbox, type ScimSandboxOptions } from '../../src/sandbox/scim/server.js';
import { scimSource } from '../../src/sources/scim/index.js';
import { Store } from '../../src/store/store.js';

const logger = pino({ level: 'silent' });
let sandbox: ScimSandbox | undefined;
afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

function config(baseUrl: string, extra: Partial<ScimSourceConfig> = {}): ScimSourceConfig {
  return {
    name: 'corp',
    type: 'scim',
    baseUrl,
    auth: { type: 'bearer', token: 't0ken' },
    groups: { pageSize: 100 },
    users: { pageSize: 100 },
    expandNested: true,
    concurrency: 4,
    timeoutMs: 2000,
    maxAttempts: 2,
    // these tests are about the full crawl (test/sources/scim-incremental.test.ts reads incrementally)
    fullReadEvery: '0s',
    lastModifiedOverlap: '5m',
    ...extra,
  };
}

async function start(opts: Partial<ScimSandboxOptions> = {}) {
  sandbox = await ScimSandbox.start({
    directory: sampleDirectory({ groups: 5, membersPerGroup: 3, seed: 3 }),
    auth: { type: 'bearer', token: 't0ken' },
    ...opts,
  });
  return sandbox;
}

const store = Store.open(':memory:');
const fetchOnce = (c: ScimSourceConfig, dispatcher?: MockAgent) =>
  scimSource.create(c, { logger, store, ...(dispatcher ? { dispatcher } : {}) }).fetch(new AbortController().signal);

describe('SCIM pull source', () => {
  it('lists groups without members, paged by the provider maxResults, then reads each group and resolves users', async () => {
    const s = await start({ maxResults: 2 });
    const res = await fetchOnce(config(s.baseUrl));
    expect(res.listingComplete).toBe(true);
    expect(res.groups).toHaveLength(5);
    expect(res.groups.every((g) => g.complete && g.members.length === 3)).toBe(true);
    expect(res.groups[0]!.members[0]).toMatchObject({ userName: expect.any(String), externalId: expect.stringMatching(/^[0-9a-f-]{36}$/), active: true });
    const listings = s.requests.filter((r) => r.path === '/scim/v2/Groups');
    expect(listings.map((r) => new URLSearchParams(r.query).get('startIndex'))).toEqual(['1', '3', '5']);
    expect(
      listings.every((r) => new URLSearchParams(r.query).get('excludedAttributes') === 'members' && new URLSearchParams(r.query).get('count') === '2'),
    ).toBe(true);
    expect(s.requests.filter((r) => /^\/scim\/v2\/Groups\/g-/.test(r.path))).toHaveLength(5);
    expect(s.requests[0]!.path).toBe('/scim/v2/ServiceProviderConfig');
  });

  it('expands nested groups without looping on a cycle', async () => {
    const s = await start();
    s.addMember('g-00001', 'g-00002', 'Group');
    s.addMember('g-00002', 'g-00001', 'Group');
    const res = await fetchOnce(config(s.baseUrl));
    const g1 = res.groups.find((g) => g.id === 'g-00001')!;
    const g2 = res.groups.find((g) => g.id === 'g-00002')!;
    expect(g1.members).toHaveLength(6);
    expect(g2.members).toHaveLength(6);
    const flat = await fetchOnce(config(s.baseUrl, { expandNested: false }));
    expect(flat.groups.find((g) => g.id === 'g-00001')!.members).toHaveLength(3);
  });

  it('passes the configured filter to the provider', async () => {
    const s = await start();
    const res = await fetchOnce(config(s.baseUrl, { groups: { pageSize: 100, filter: 'displayName eq "team-ops"' } }));
    expect(res.groups.map((g) => g.displayName)).toEqual(['team-ops']);
  });

  it('marks a group unknown when its members cannot be read, and keeps the others', async () => {
    const s = await start();
    s.faults.push({ path: '/Groups/g-00002', status: 503 });
    const res = await fetchOnce(config(s.baseUrl));
    const bad = res.groups.find((g) => g.id === 'g-00002')!;
    expect(bad.complete).toBe(false);
    expect(bad.unknownReason).toMatch(/members could not be read .*503/);
    expect(res.groups.filter((g) => g.complete)).toHaveLength(4);
    expect(res.listingComplete).toBe(true);
  });

  it('does not wait a day for a provider that asks for it: the group is unknown, the read goes on', async () => {
    const s = await start();
    s.faults.push({ path: '/Groups/g-00002', status: 429, retryAfter: '86400' });
    const started = Date.now();
    const res = await fetchOnce(config(s.baseUrl));
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(res.groups.find((g) => g.id === 'g-00002')!.unknownReason).toMatch(/asks to wait 86400 s, more than the 300 s a read waits: given up/);
    expect(res.groups.filter((g) => g.complete)).toHaveLength(4);
  });

  it('marks a group unknown when its read times out', async () => {
    const s = await start();
    s.faults.push({ path: '/Groups/g-00003', delayMs: 1500 });
    const res = await fetchOnce(config(s.baseUrl, { timeoutMs: 300, maxAttempts: 1 }));
    expect(res.groups.find((g) => g.id === 'g-00003')!.unknownReason).toMatch(/timed out after 300 ms/);
  });

  it('reports an incomplete listing when a page keeps failing, and resolves users one by one when a user page fails', async () => {
    const s = await start({ maxResults: 2 });
    s.faults.push({ path: '/Groups', query: { startIndex: '3' }, status: 500 });
    s.faults.push({ path: '/Users', query: { startIndex: '1' }, status: 500 });
    const res = await fetchOnce(config(s.baseUrl));
    expect(res.listingComplete).toBe(false);
    expect(res.groups.map((g) => g.id)).toEqual(['g-00001', 'g-00002', 'g-00005']);
    expect(res.groups.every((g) => g.complete && g.members.length === 3)).toBe(true);
    expect(res.warnings.join('\n')).toMatch(/page at startIndex 3 failed/);
  });

  it('takes a listing that a group deleted mid-crawl shifted as incomplete (totalResults changed), and leaves the vanished group out', async () => {
    const s = await start({ maxResults: 2 });
    // g-00002 goes once page 1 is sent: page 2 (startIndex 3) then starts at g-00004, and g-00003 is never listed
    s.deleteGroupDuringCrawl('g-00002', 1);
    const res = await fetchOnce(config(s.baseUrl));
    expect(res.listingComplete).toBe(false);
    expect(res.groups.map((g) => g.id)).toEqual(['g-00001', 'g-00004', 'g-00005']);
    expect(res.groups.every((g) => g.complete)).toBe(true);
    const said = res.warnings.join('\n');
    expect(said).toMatch(/source corp: \/Groups totalResults changed from 5 to 4 at the page at startIndex 3/);
    expect(said).toMatch(/group g-00002 \("team-ops"\) was listed, then answered 404 when its members were read/);
    expect(said).toMatch(/the group listing was incomplete \(4 distinct group\(s\) received, totalResults 4\)/);
  });

  it('counts a group repeated on a later page once: distinct groups short of an unchanged totalResults is incomplete', async () => {
    const s = await start({ maxResults: 2 });
    // g-00001 moves to the end after page 1: pages shift by one, g-00003 is skipped, g-00001 comes again
    s.onPage((p) => {
      if (p.resource !== 'Groups' || p.startIndex !== 1) return;
      const g = s.groups.get('g-00001')!;
      s.groups.delete(g.id);
      s.groups.set(g.id, g);
    });
    const res = await fetchOnce(config(s.baseUrl));
    const listings = s.requests.filter((r) => r.path === '/scim/v2/Groups');
    expect(listings.map((r) => new URLSearchParams(r.query).get('startIndex'))).toEqual(['1', '3', '5']);
    expect(res.groups.map((g) => g.id)).toEqual(['g-00001', 'g-00002', 'g-00004', 'g-00005']);
    expect(res.listingComplete).toBe(false);
    expect(res.warnings.join('\n')).toMatch(/\/Groups listing received 4 distinct resource\(s\) of totalResults 5/);
  });

  it('takes an early empty page as a failed read, not as fewer groups, and stops there', async () => {
    const s = await start({ maxResults: 2 });
    s.faults.push({ path: '/Groups', query: { startIndex: '3' }, emptyPage: true });
    const res = await fetchOnce(config(s.baseUrl));
    expect(res.listingComplete).toBe(false);
    expect(res.groups.map((g) => g.id)).toEqual(['g-00001', 'g-00002']);
    expect(res.warnings.join('\n')).toMatch(/\/Groups page at startIndex 3 came back empty with totalResults 5 \(2 received so far\): a failed read/);
    const listings = s.requests.filter((r) => r.path === '/scim/v2/Groups');
    expect(listings.map((r) => new URLSearchParams(r.query).get('startIndex'))).toEqual(['1', '3']);
  });

  it('takes a totalResults larger than what the pages hold as incomplete', async () => {
    const s = await start({ maxResults: 2 });
    s.faults.push({ path: '/Groups', totalResults: 6 });
    const res = await fetchOnce(config(s.baseUrl));
    expect(res.listingComplete).toBe(false);
    expect(res.groups).toHaveLength(5);
    const said = res.warnings.join('\n');
    expect(said).toMatch(/page at startIndex 6 came back empty with totalResults 6 \(5 received so far\)/);
    expect(said).toMatch(/listing received 5 distinct resource\(s\) of totalResults 6/);
  });

  it('takes a totalResults that changes between pages as incomplete, even when every group came', async () => {
    const s = await start({ maxResults: 2 });
    s.faults.push({ path: '/Groups', query: { startIndex: '3' }, totalResults: 6 });
    const res = await fetchOnce(config(s.baseUrl));
    expect(res.groups).toHaveLength(5);
    expect(res.listingComplete).toBe(false);
    const said = res.warnings.join('\n');
    expect(said).toMatch(/totalResults changed from 5 to 6 at the page at startIndex 3/);
    expect(said).toMatch(/totalResults changed from 6 to 5 at the page at startIndex 5/);
  });

  it('advances by what a page held when the provider returns fewer than asked, also when its page size varies', async () => {
    const s = await start({ maxPageSize: 1 });
    // one group on the first page, then three a page: a parser that pages again what it receives drops one
    s.onPage((p) => {
      if (p.resource === 'Groups') s.maxPageSize = 3;
    });
    const res = await fetchOnce(config(s.baseUrl, { groups: { pageSize: 4 } }));
    expect(res.listingComplete).toBe(true);
    expect(res.groups.map((g) => g.id)).toEqual(['g-00001', 'g-00002', 'g-00003', 'g-00004', 'g-00005']);
    const listings = s.requests.filter((r) => r.path === '/scim/v2/Groups');
    expect(listings.map((r) => new URLSearchParams(r.query).get('startIndex'))).toEqual(['1', '2', '5']);
    expect(listings.every((r) => new URLSearchParams(r.query).get('count') === '4')).toBe(true);
  });

  it('reads a whole directory from a provider that returns one item per page', async () => {
    const s = await start({ maxPageSize: 1 });
    const res = await fetchOnce(config(s.baseUrl));
    expect(res.listingComplete).toBe(true);
    expect(res.groups).toHaveLength(5);
    expect(res.groups.every((g) => g.complete && g.members.length === 3)).toBe(true);
    // five pages, and the one past totalResults (its last page was full) to check nothing follows
    expect(s.requests.filter((r) => r.path === '/scim/v2/Groups')).toHaveLength(6);
  });

  it('never takes a group that vanished after the listing as gone: the listing is incomplete, a group nesting it unknown', async () => {
    const s = await start({ maxResults: 2 });
    s.addMember('g-00001', 'g-00002', 'Group');
    s.deleteGroupDuringCrawl('g-00002', 5);
    const res = await fetchOnce(config(s.baseUrl));
    expect(res.listingComplete).toBe(false);
    expect(res.groups.map((g) => g.id)).toEqual(['g-00001', 'g-00003', 'g-00004', 'g-00005']);
    const parent = res.groups.find((g) => g.id === 'g-00001')!;
    expect(parent.complete).toBe(false);
    expect(parent.unknownReason).toBe('nested group g-00002 was listed, then vanished during the read');
    expect(res.groups.filter((g) => g.complete)).toHaveLength(3);
    expect(res.warnings.join('\n')).toMatch(/group g-00002 \("team-ops"\) was listed, then answered 404/);
  });

  it('authenticates with basic and OAuth2 client credentials, and fails clearly on bad credentials', async () => {
    const basic = await start({ auth: { type: 'basic', username: 'sync', password: 'pw' } });
    expect((await fetchOnce(config(basic.baseUrl, { auth: { type: 'basic', username: 'sync', password: 'pw' } }))).groups).toHaveLength(5);
    await expect(fetchOnce(config(basic.baseUrl, { auth: { type: 'basic', username: 'sync', password: 'nope' } }))).rejects.toBeInstanceOf(AuthError);
    await basic.stop();

    const oauth = await start({ auth: { type: 'oauth2', clientId: 'convsync', clientSecret: 's3cret' } });
    const ok = config(oauth.baseUrl, { auth: { type: 'oauth2', tokenUrl: `${oauth.url}/oauth/token`, clientId: 'convsync', clientSecret: 's3cret' } });
    expect((await fetchOnce(ok)).groups).toHaveLength(5);
    expect(oauth.requests.filter((r) => r.path === '/oauth/token')).toHaveLength(1);
    const bad = config(oauth.baseUrl, { auth: { type: 'oauth2', tokenUrl: `${oauth.url}/oauth/token`, clientId: 'convsync', clientSecret: 'wrong' } });
    await expect(fetchOnce(bad)).rejects.toThrow(/OAuth2 client-credentials token refused \(invalid_client\)/);
  });

  it('rejects a user and a group whose text is not well-formed Unicode: unknown, never gone or emptied', async () => {
    const directory = sampleDirectory({ groups: 3, membersPerGroup: 2, seed: 3 });
    const member = directory.users.find((u) => u.id === directory.groups[0]!.members[0]!.value)!;
    member.userName = 'alice\ud800';
    directory.groups[1]!.displayName = 'team-\udc00';
    directory.groups[2]!.members.push({ value: 'u-\ud800', type: 'User' });
    const s = await start({ directory });
    const res = await fetchOnce(config(s.baseUrl, { maxAttempts: 1 }));
    const said = res.warnings.join('\n');
    expect(said).toMatch(/a user was rejected \(Attribute 'userName' is not well-formed Unicode \(an unpaired surrogate\)\)/);
    expect(said).toMatch(/a group was rejected \(Attribute 'displayName' is not well-formed Unicode \(an unpaired surrogate\)\)/);
    expect(said).toMatch(/a group was rejected \(Attribute 'value' of 'members' is not well-formed Unicode \(an unpaired surrogate\)\)/);
    // the group left out of the listing: no group is unbound; those with such a member: no one is removed
    expect(res.listingComplete).toBe(false);
    expect(res.groups.map((g) => [g.id, g.complete])).toEqual([
      [directory.groups[0]!.id, false],
      [directory.groups[2]!.id, false],
    ]);
  });

  it('rejects a group whose members break RFC 7643 (no value, unknown type), saying which rule (MockAgent)', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const pool = agent.get('https://idp.test');
    const list = (Resources: unknown[]) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: Resources.length, Resources });
    pool.intercept({ path: '/scim/v2/ServiceProviderConfig' }).reply(200, { filter: { maxResults: 50 } });
    pool.intercept({ path: (p) => p.startsWith('/scim/v2/Groups?') }).reply(
      200,
      list([
        { id: 'g1', displayName: 'team-a' },
        { id: 'g2', displayName: 'team-b' },
      ]),
    );
    pool.intercept({ path: '/scim/v2/Groups/g1' }).reply(200, { id: 'g1', displayName: 'team-a', members: [{ value: 'u1', type: 'Robot' }] });
    pool.intercept({ path: '/scim/v2/Groups/g2' }).reply(200, { id: 'g2', displayName: 'team-b', members: [{ type: 'User' }] });
    pool.intercept({ path: (p) => p.startsWith('/scim/v2/Users?') }).reply(200, list([{ id: 'u1', userName: 'a' }]));
    const res = await fetchOnce(config('https://idp.test/scim/v2', { maxAttempts: 1 }), agent);
    const said = res.warnings.join('\n');
    expect(said).toMatch(/a group was rejected \(Attribute 'type' of 'members' must be User or Group, not "Robot"\)/);
    expect(said).toMatch(/a group was rejected \(Required attribute 'value' of 'members' is missing or not a string\)/);
    expect(res.groups.filter((g) => g.complete)).toEqual([]);
    await agent.close();
  });

  it('rejects answers outside the SCIM contract with a clear warning (MockAgent)', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const pool = agent.get('https://idp.test');
    pool.intercept({ path: '/scim/v2/ServiceProviderConfig' }).reply(200, { filter: { maxResults: 50 } });
    pool.intercept({ path: (p) => p.startsWith('/scim/v2/Groups?') }).reply(200, { schemas: ['urn:example:NotAList'], Resources: [] });
    pool.intercept({ path: (p) => p.startsWith('/scim/v2/Users?') }).reply(200, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
      totalResults: 2,
      Resources: [{ id: 'u1', userName: 'a' }, { id: 'u2' }],
    });
    const res = await fetchOnce(config('https://idp.test/scim/v2', { maxAttempts: 1 }), agent);
    expect(res.listingComplete).toBe(false);
    expect(res.warnings.join('\n')).toMatch(/not a SCIM ListResponse/);
    expect(res.warnings.join('\n')).toMatch(/a user was rejected \(Required attribute 'userName' is missing\)/);
    agent.assertNoPendingInterceptors();
    await agent.close();
  });
});
