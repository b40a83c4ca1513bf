import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ScimSourceConfig } from '../../src/config/schema.js';
import { sampleDirectory } from '../../src/sandbox/directory.js';
import { ScimSandbox, type ScimSandboxOptions } from '../../src/sandbox/scim/server.js';
import { scimSource } from '../../src/sources/scim/index.js';
import type { SourceResult } from '../../src/sources/types.js';
import { Store } from '../../src/store/store.js';
import { parsedSource } from '../helpers/source-config.js';

const logger = pino({ level: 'silent' });
const MINUTE = 60_000;
let sandbox: ScimSandbox | undefined;
const stores: Store[] = [];
afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
  for (const s of stores.splice(0)) s.close();
});

/** one clock for the provider and convsync, moved by the test: no sleeping, no race with the ms */
function clock(start = Date.parse('2026-03-02T10:00:00.000Z')) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const config = (baseUrl: string, extra: Record<string, unknown> = {}) =>
  parsedSource<ScimSourceConfig>({ name: 'corp', type: 'scim', baseUrl, auth: { type: 'bearer', token: 't0ken' }, timeoutMs: 2000, maxAttempts: 1, ...extra });

/** `skewMs`: how far the provider's clock is behind convsync's */
async function setup(opts: Partial<ScimSandboxOptions> & { config?: Record<string, unknown>; skewMs?: number } = {}) {
  const c = clock();
  const { config: extra, skewMs = 0, ...sandboxOpts } = opts;
  const directory = sampleDirectory({ groups: 6, membersPerGroup: 3, users: 12, seed: 3 });
  sandbox = await ScimSandbox.start({ directory, auth: { type: 'bearer', token: 't0ken' }, maxResults: 4, clock: () => c.now() - skewMs, ...sandboxOpts });
  // the directory as it was made an hour before the first read
  c.advance(60 * MINUTE);
  const store = Store.open(':memory:');
  stores.push(store);
  const cfg = config(sandbox.baseUrl, extra);
  const source = scimSource.create(cfg, { logger, store, now: c.now });
  const s = sandbox;
  /** a read, and the requests it made */
  const read = async () => {
    const before = s.requests.length;
    const result = await source.fetch(new AbortController().signal);
    c.advance(MINUTE);
    return { result, requests: s.requests.slice(before) };
  };
  const changed = async () => {
    const before = s.requests.length;
    const answer = await source.changed!(new AbortController().signal);
    return { answer, requests: s.requests.slice(before) };
  };
  /** what a full crawl of the provider finds now, with a store of its own */
  const fullCrawl = async () => {
    const own = Store.open(':memory:');
    stores.push(own);
    return scimSource.create(cfg, { logger, store: own, now: c.now }).fetch(new AbortController().signal);
  };
  return { s, store, clock: c, read, changed, fullCrawl };
}

/** what a plan takes of a read: each group's name, whether it is known, and its members' identities */
function view(r: SourceResult) {
  return Object.fromEntries(
    r.groups.map((g) => [g.key, { name: g.displayName, complete: g.complete, members: g.members.map((u) => `${u.id}:${u.externalId}:${u.active}`).sort() }]),
  );
}

const groupReads = (requests: { path: string }[]) => requests.filter((r) => /^\/scim\/v2\/Groups\/./.test(r.path)).map((r) => r.path.split('/').pop());

describe('SCIM pull, incremental by meta.lastModified', () => {
  it('crawls in full first and asks whether the provider filters on meta.lastModified; with nothing changed a read asks five short questions and gives the same directory', async () => {
    const t = await setup();
    const first = await t.read();
    expect(first.result.listingComplete).toBe(true);
    expect(groupReads(first.requests)).toHaveLength(6);
    const probes = first.requests.filter((r) => /meta\.lastModified/.test(decodeURIComponent(r.query)));
    expect(probes.map((r) => new URLSearchParams(r.query).get('filter'))).toEqual([
      'meta.lastModified gt "9999-12-31T23:59:59Z"',
      'meta.lastModified gt "1970-01-01T00:00:00Z"',
      'meta.lastModified gt "9999-12-31T23:59:59Z"',
      'meta.lastModified gt "1970-01-01T00:00:00Z"',
    ]);
    expect(t.store.reads.state('corp')).toMatchObject({ fullReadAt: '2026-03-02T11:00:00.000Z' });

    expect(await t.changed()).toMatchObject({ answer: false, requests: { length: 4 } });
    const second = await t.read();
    expect(second.requests.map((r) => r.path)).toEqual([
      '/scim/v2/ServiceProviderConfig',
      '/scim/v2/Groups',
      '/scim/v2/Users',
      '/scim/v2/Groups',
      '/scim/v2/Users',
    ]);
    expect(second.requests.every((r) => r.path.endsWith('ServiceProviderConfig') || new URLSearchParams(r.query).get('count') === '1')).toBe(true);
    // what changed since the cursor, less the overlap (5 min by default)
    expect(new URLSearchParams(second.requests[1]!.query).get('filter')).toBe('meta.lastModified gt "2026-03-02T10:55:00.000Z"');
    expect(view(second.result)).toEqual(view(first.result));
  });

  it('merges what changed into the stored read: members added and removed, a rename, a new group, a new user and a changed user; the result is what a full crawl gives', async () => {
    const t = await setup();
    await t.read();
    const versionBefore = t.store.reads.versions().get('corp');
    t.s.addMember('g-00001', 'u-000010');
    t.s.removeMember('g-00002', 'u-000004');
    t.s.renameGroup('g-00003', 'team-sales-renamed');
    t.s.addUser({
      id: 'u-000099',
      userName: 'zoe',
      displayName: 'Zoe',
      email: 'zoe@example.com',
      externalId: '99999999-9999-4999-8999-999999999999',
      active: true,
    });
    t.s.addGroup({
      id: 'g-00099',
      displayName: 'team-new',
      members: [
        { value: 'u-000099', type: 'User' },
        { value: 'u-000001', type: 'User' },
      ],
    });
    t.s.updateUser('u-000005', { active: false, externalId: '55555555-5555-4555-8555-555555555555' });
    expect((await t.changed()).answer).toBe(true);

    const { result, requests } = await t.read();
    expect(groupReads(requests).sort()).toEqual(['g-00001', 'g-00002', 'g-00003', 'g-00099']);
    const crawled = await t.fullCrawl();
    expect(view(result)).toEqual(view(crawled));
    // a user from the stored read keeps the resource as the provider sent it (identity paths read it)
    const member = (r: SourceResult) => r.groups.find((g) => g.id === 'g-00004')!.members.find((u) => u.id === 'u-000010')!;
    expect(member(result).raw).toEqual(member(crawled).raw);
    expect(member(result).raw).toMatchObject({ userName: expect.any(String), meta: { lastModified: expect.any(String) } });
    expect(result.groups.find((g) => g.id === 'g-00003')!.displayName).toBe('team-sales-renamed');
    expect(t.store.reads.versions().get('corp')).toBe(versionBefore! + 1);
    // within the overlap the changes are listed again: read, compared, and not taken as new changes
    expect((await t.changed()).answer).toBe(false);
    const again = await t.read();
    expect(groupReads(again.requests).sort()).toEqual(['g-00001', 'g-00002', 'g-00003', 'g-00099']);
    expect(t.store.reads.versions().get('corp')).toBe(versionBefore! + 1);
    // once a read started more than the overlap after the changes, the next one lists none of them
    t.clock.advance(5 * MINUTE);
    await t.read();
    expect(groupReads((await t.read()).requests)).toEqual([]);
    expect(t.store.reads.versions().get('corp')).toBe(versionBefore! + 1);
  });

  it('sees deletions where a total moved: a deleted group, and a deleted user whose groups were not marked modified (a listing of ids says which)', async () => {
    const t = await setup();
    await t.read();
    t.s.deleteGroup('g-00004');
    t.s.deleteUser('u-000001', { touchGroups: false });
    expect((await t.changed()).answer).toBe(true);
    const { result, requests } = await t.read();
    const idListings = requests.filter((r) => new URLSearchParams(r.query).get('attributes') === 'id' && new URLSearchParams(r.query).get('count') !== '1');
    expect(new Set(idListings.map((r) => r.path))).toEqual(new Set(['/scim/v2/Groups', '/scim/v2/Users']));
    expect(result.groups.map((g) => g.id)).not.toContain('g-00004');
    // the user is gone from the stored read: the group still naming it has it read by id, and left out
    expect(view(result)).toEqual(view(await t.fullCrawl()));
    expect(result.groups.flatMap((g) => g.members.map((u) => u.id))).not.toContain('u-000001');
    expect(t.store.reads.users('corp').has('u-000001')).toBe(false);
    expect((await t.changed()).answer).toBe(false);
  });

  it('misses a change stamped with a meta.lastModified older than the cursor, and the next full crawl (fullReadEvery) catches it', async () => {
    const t = await setup({ config: { fullReadEvery: '1h' } });
    await t.read();
    t.s.addMember('g-00005', 'u-000011');
    // applied late by a replica: stamped before the last read
    t.s.backdate('Groups', 'g-00005', '2026-03-02T10:00:00.000Z');
    expect((await t.changed()).answer).toBe(false);
    const missed = await t.read();
    expect(missed.result.groups.find((g) => g.id === 'g-00005')!.members.map((u) => u.id)).not.toContain('u-000011');

    t.clock.advance(60 * MINUTE);
    expect((await t.changed()).answer).toBe(true);
    const full = await t.read();
    expect(groupReads(full.requests)).toHaveLength(6);
    expect(full.result.groups.find((g) => g.id === 'g-00005')!.members.map((u) => u.id)).toContain('u-000011');
  });

  it('covers clock skew with the overlap: a provider 3 minutes behind is read right with the default 5 minutes, and missed with none', async () => {
    for (const [overlap, seen] of [
      ['5m', true],
      ['0s', false],
    ] as const) {
      const t = await setup({ skewMs: 3 * MINUTE, config: { lastModifiedOverlap: overlap } });
      await t.read();
      t.s.addMember('g-00001', 'u-000012');
      const { result } = await t.read();
      expect(result.groups.find((g) => g.id === 'g-00001')!.members.some((u) => u.id === 'u-000012')).toBe(seen);
      await sandbox!.stop();
      sandbox = undefined;
    }
  });

  it('crawls in full every time a provider refuses the filter (400 invalidFilter) or ignores it (everything listed)', async () => {
    for (const mode of ['refused', 'ignored'] as const) {
      const t = await setup({ lastModifiedFilter: mode });
      const asked = await fetch(`${t.s.baseUrl}/Groups?filter=${encodeURIComponent('meta.lastModified gt "2026-01-01T00:00:00Z"')}`, {
        headers: { authorization: 'Bearer t0ken' },
      });
      const body = (await asked.json()) as { scimType?: string; totalResults?: number };
      // RFC 7644 §3.12: 400 invalidFilter; or everything listed, the filter not looked at
      if (mode === 'refused') expect([asked.status, body.scimType]).toEqual([400, 'invalidFilter']);
      else expect([asked.status, body.totalResults]).toEqual([200, 6]);
      await t.read();
      expect(JSON.parse(t.store.reads.state('corp')!.cursor!)).toMatchObject({ lastModified: 'unsupported' });
      expect((await t.changed()).answer).toBe(true);
      t.s.addMember('g-00001', 'u-000010');
      const again = await t.read();
      expect(groupReads(again.requests)).toHaveLength(6);
      expect(again.result.groups.find((g) => g.id === 'g-00001')!.members.some((u) => u.id === 'u-000010')).toBe(true);
      await sandbox!.stop();
      sandbox = undefined;
    }
  });

  it('falls back to a full crawl in the same run when a provider starts refusing the filter', async () => {
    const t = await setup();
    await t.read();
    t.s.lastModifiedFilter = 'refused';
    t.s.addMember('g-00001', 'u-000010');
    const { result, requests } = await t.read();
    expect(groupReads(requests)).toHaveLength(6);
    expect(result.warnings.some((w) => /refused a filter on meta\.lastModified/.test(w))).toBe(true);
    expect(result.groups.find((g) => g.id === 'g-00001')!.members.some((u) => u.id === 'u-000010')).toBe(true);
    expect(JSON.parse(t.store.reads.state('corp')!.cursor!)).toMatchObject({ lastModified: 'unsupported' });
  });

  it('fails the whole read when the listing of what changed cannot be read, stores nothing, and the next read gets the same changes', async () => {
    const t = await setup();
    await t.read();
    const state = t.store.reads.state('corp');
    t.s.addMember('g-00001', 'u-000010');
    t.s.faults.push({ path: '/Groups', query: { excludedAttributes: 'members' }, status: 503, times: 1 });
    await expect(t.read()).rejects.toThrow(/incremental read failed: the listing of what changed could not be read whole/);
    expect(t.store.reads.state('corp')).toEqual(state);
    const { result } = await t.read();
    expect(result.groups.find((g) => g.id === 'g-00001')!.members.some((u) => u.id === 'u-000010')).toBe(true);
  });

  it('takes a changed group whose members cannot be read as unknown, keeps the others, and stores nothing until it is read', async () => {
    const t = await setup();
    await t.read();
    const state = t.store.reads.state('corp');
    t.s.addMember('g-00001', 'u-000010');
    t.s.addMember('g-00002', 'u-000010');
    t.s.faults.push({ path: '/Groups/g-00002', status: 503, times: 1 });
    const failed = await t.read();
    expect(failed.result.groups.find((g) => g.id === 'g-00002')).toMatchObject({ complete: false, unknownReason: expect.stringMatching(/could not be read/) });
    expect(failed.result.groups.find((g) => g.id === 'g-00001')!.complete).toBe(true);
    expect(t.store.reads.state('corp')).toEqual(state);
    const { result } = await t.read();
    expect(result.groups.every((g) => g.complete)).toBe(true);
    expect(view(result)).toEqual(view(await t.fullCrawl()));
  });

  it('follows nested groups: a change inside a nested group reaches the group that nests it, also when the group filter leaves the nested one out', async () => {
    const t = await setup({ config: { groups: { filter: 'displayName sw "team-e"' } } });
    t.s.addGroup({ id: 'g-00050', displayName: 'inner', members: [{ value: 'u-000007', type: 'User' }] });
    t.s.addMember('g-00001', 'g-00050', 'Group');
    const first = await t.read();
    expect(first.result.groups.map((g) => g.displayName)).toEqual(['team-eng']);
    t.s.addMember('g-00050', 'u-000008');
    expect((await t.changed()).answer).toBe(true);
    const { result } = await t.read();
    expect(result.groups[0]!.members.map((u) => u.id)).toContain('u-000008');
    expect(view(result)).toEqual(view(await t.fullCrawl()));
  });
});
