import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema, type LdapSourceConfig } from '../../src/config/schema.js';
import { describeError } from '../../src/errors.js';
import { AdSandbox, type AdSandboxOptions } from '../../src/sandbox/ldap/server.js';
import { ldapSource, type LdapReadReport } from '../../src/sources/ldap/index.js';
import type { SourceResult } from '../../src/sources/types.js';
import { Store } from '../../src/store/store.js';

/**
 * Incremental reads by uSNChanged against the AD sandbox: the cursor is the domain controller's
 * highestCommittedUSN; nothing committed since costs no search; a change elsewhere costs the id
 * listings and the queries for changes; changes, ranges and deletions merged; a failed read stores
 * nothing; a change the cursor is past waits for the full read; another DC, a server without USNs
 * and one that does not filter on uSNChanged are read in full.
 */
const USERS = 1_200;
const GONE = 300;
const HOUR = 3_600_000;
const logger = pino({ level: 'silent' });

let ad: AdSandbox;
const users: { dn: string; guid: string; name: string }[] = [];
const groups: Record<string, { dn: string; guid: string }> = {};
const cleanup: (() => unknown)[] = [];

function config(s: AdSandbox, over: Record<string, unknown> = {}): LdapSourceConfig {
  return ConfigSchema.parse({
    store: { path: ':memory:' },
    sources: [
      {
        name: 'ad',
        type: 'ldap',
        url: s.url,
        bindDn: s.bindDn,
        password: s.password,
        pageSize: 1000,
        timeoutMs: 2000,
        groups: { baseDn: `OU=Groups,${s.baseDn}`, filter: '(objectClass=group)', idAttribute: 'objectGUID' },
        users: {
          baseDn: `OU=Staff,${s.baseDn}`,
          filter: '(&(objectCategory=person)(objectClass=user))',
          idAttribute: 'objectGUID',
          attributes: ['employeeID'],
        },
        ...over,
      },
    ],
    backend: { type: 'protocol', baseUrl: 'http://127.0.0.1:9', auth: { type: 'bearer', token: 'unused' } },
    mappings: [{ match: { source: 'ad' }, name: '{displayName}' }],
  }).sources[0] as LdapSourceConfig;
}

type Reported = SourceResult & { report: LdapReadReport };

/** a source with a store in a SQLite file (or the one given) and a clock for its schedule */
function setup(cfg: LdapSourceConfig, given?: Store) {
  let store = given;
  if (!store) {
    const dir = mkdtempSync(join(tmpdir(), 'convsync-ad-inc-'));
    store = Store.open(join(dir, 'convsync.db'));
    const s = store;
    cleanup.push(
      () => s.close(),
      () => rmSync(dir, { recursive: true, force: true }),
    );
  }
  const clock = { t: Date.now() };
  const source = ldapSource.create(cfg, { logger, store, now: () => clock.t });
  const reports = source as unknown as { lastRead: LdapReadReport; lastCheck: LdapReadReport };
  return {
    store,
    clock,
    fetch: async (): Promise<Reported> => ({ ...(await source.fetch(new AbortController().signal)), report: reports.lastRead }),
    changed: () => source.changed!(new AbortController().signal),
    lastCheck: () => reports.lastCheck,
  };
}

const fullRead = (s: AdSandbox = ad) => setup(config(s)).fetch();

function view(r: SourceResult) {
  return Object.fromEntries(
    r.groups.map((g) => [g.key, { name: g.displayName, complete: g.complete, members: g.members.map((u) => `${u.userName}:${u.active}`).sort() }]),
  );
}

const members = (r: SourceResult, name: string) => r.groups.find((g) => g.displayName === name)!.members.map((u) => u.userName);
const NONE = { groups: 0, deletedGroups: 0, users: 0, deletedUsers: 0, outside: 0 };
const rangedAsked = (from: number) => ad.searches.slice(from).flatMap((s) => s.attributes.filter((a) => /^member;range=/i.test(a)));

async function sandbox(opts: AdSandboxOptions = {}): Promise<AdSandbox> {
  const s = await AdSandbox.start(opts);
  cleanup.push(() => s.stop());
  return s;
}

beforeAll(async () => {
  ad = await sandbox({ maxValRange: 500 });
  for (let n = 0; n < USERS; n++) {
    const name = `user${String(n).padStart(5, '0')}`;
    users.push({ ...ad.addUser({ name, mail: `${name}@corp.example`, disabled: n % 100 === 7, attributes: { employeeID: [`E${n}`] } }), name });
  }
  groups.eng = ad.addGroup({ name: 'eng', members: users.slice(0, 10).map((u) => u.dn) });
  groups.contractors = ad.addGroup({ name: 'contractors', ou: 'Other', members: [users[20]!.dn, users[21]!.dn] });
  groups.all = ad.addGroup({ name: 'all', members: [groups.eng.dn, groups.contractors.dn, users[30]!.dn] });
  ad.setMembers(groups.eng.dn, [...users.slice(0, 10).map((u) => u.dn), groups.all.dn]);
  // 1,500 values at MaxValRange 500: the listing's 0-499, then 500-* and 1000-*; 300 name no entry
  groups.everyone = ad.addGroup({
    name: 'everyone',
    members: [...users.map((u) => u.dn), ...Array.from({ length: GONE }, (_, i) => `CN=gone${i},OU=Staff,${ad.baseDn}`)],
  });
});
afterAll(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('LDAP source, incremental reads by uSNChanged (AD sandbox)', () => {
  let t: ReturnType<typeof setup>;
  let fullRequests = 0;
  beforeAll(() => {
    t = setup(config(ad));
  });

  it("reads in full first, with the DC's highestCommittedUSN as the cursor; with nothing committed since, a read makes no search at all", async () => {
    const usn = String(ad.dir.usn);
    const full = await t.fetch();
    fullRequests = full.report.requests;
    expect(full.report).toMatchObject({ mode: 'full', why: 'no earlier read', stored: true, activeDirectory: true, users: USERS });
    expect(JSON.parse(t.store.reads.state('ad')!.cursor!)).toMatchObject({ v: 1, kind: 'usn', usn, server: ad.dsServiceName });
    // the 300 members that name no entry are read one by one in a full read
    expect(fullRequests).toBeGreaterThan(GONE);

    const searches = ad.searches.length;
    expect(await t.changed()).toBe(false);
    expect(t.lastCheck()).toMatchObject({ mode: 'check', requests: 0 });
    const quiet = await t.fetch();
    expect(quiet.report).toMatchObject({ mode: 'incremental', stored: true, requests: 0, changes: { listedGroups: 0, listedUsers: 0, ...NONE } });
    expect(ad.searches.length).toBe(searches);
    expect(view(quiet)).toEqual(view(full));
  });

  it('on a USN moved by a change elsewhere in the domain, asks only for ids and for what changed: a small fraction of a full read', async () => {
    const cursor = BigInt(ad.dir.usn);
    ad.addUser({ name: 'printer', ou: 'Other' });
    const before = ad.searches.length;
    const r = await t.fetch();
    // ids: groups in 1 page, users in 2 (AD serves 1000 a page whatever is asked); changed groups and users: none;
    // contractors, a group outside the listings, read again; the 300 entries that did not exist are not
    expect(r.report).toMatchObject({ mode: 'incremental', stored: true, requests: 1 + 2 + 2 + 1, changes: { listedGroups: 0, listedUsers: 0, ...NONE } });
    expect(r.report.requests).toBeLessThanOrEqual(fullRequests / 20);
    const filters = ad.searches.slice(before).map((s) => JSON.stringify(s.filter));
    expect(filters.filter((f) => f.includes(`{"kind":"ge","attr":"uSNChanged","value":"${cursor + 1n}"}`))).toHaveLength(2);
    expect(JSON.parse(t.store.reads.state('ad')!.cursor!).usn).toBe(String(ad.dir.usn));
    expect(await t.changed()).toBe(false);
    expect(t.lastCheck().requests).toBe(0);
  });

  it('reads a changed large group again whole, range by range, and a new user; the result is what a full read gives', async () => {
    const newbie = ad.addUser({ name: 'newbie', mail: 'newbie@corp.example' });
    const everyone = ad.dir.values(ad.dir.get(groups.everyone!.dn)!, 'member');
    ad.setMembers(groups.everyone!.dn, [...everyone.filter((m) => m !== users[5]!.dn), newbie.dn]);
    expect(await t.changed()).toBe(true);
    const before = ad.searches.length;
    const r = await t.fetch();
    expect(r.report).toMatchObject({
      mode: 'incremental',
      stored: true,
      changes: { listedGroups: 1, groups: 1, listedUsers: 1, users: 1, deletedGroups: 0, deletedUsers: 0 },
    });
    expect(rangedAsked(before)).toEqual(['member;range=500-*', 'member;range=1000-*']);
    expect(members(r, 'everyone')).toContain('newbie');
    expect(members(r, 'everyone')).not.toContain('user00005');
    expect(view(r)).toEqual(view(await fullRead()));
  });

  it('reads a nested group outside the listings again: a member it gained is seen by the question and by the read', async () => {
    ad.setMembers(groups.contractors!.dn, [users[20]!.dn, users[21]!.dn, users[22]!.dn]);
    expect(await t.changed()).toBe(true);
    expect(t.lastCheck()).toMatchObject({ mode: 'check', stored: false, why: `nested group ${groups.contractors!.dn.toLowerCase()} changed` });
    const r = await t.fetch();
    expect(r.report).toMatchObject({
      mode: 'incremental',
      stored: true,
      changes: { listedGroups: 0, listedUsers: 0, groups: 0, deletedGroups: 0, users: 0, deletedUsers: 0, outside: 1 },
    });
    expect(members(r, 'all')).toContain('user00022');
    expect(view(r)).toEqual(view(await fullRead()));
  });

  it('a member renamed (AD modrdn: its groups keep their USN) makes the read a full one: nobody is dropped as gone', async () => {
    const bob = users[5]!;
    const renamed = `CN=${bob.name}-renamed,OU=Staff,${ad.baseDn}`;
    ad.renameEntry(bob.dn, renamed);
    const r = await t.fetch();
    expect(r.report).toMatchObject({ mode: 'full' });
    expect(members(r, 'eng')).toContain(bob.name);
    expect(view(r)).toEqual(view(await fullRead()));
    ad.renameEntry(renamed, bob.dn);
    await t.fetch();
  });

  it('sees a deleted group and a deleted user through the id listings (the groups that listed them keep their USN)', async () => {
    ad.deleteEntry(groups.all!.dn);
    ad.deleteEntry(users[3]!.dn);
    const r = await t.fetch();
    // as stored, eng still names 'all' and user00003, and everyone user00003: entries that no longer exist (two
    // rows kept of what is outside the listings); contractors, reached only through 'all', is dropped (a third)
    expect(r.report).toMatchObject({
      mode: 'incremental',
      stored: true,
      changes: { listedGroups: 0, listedUsers: 0, groups: 0, deletedGroups: 1, deletedUsers: 1, outside: 3 },
    });
    expect(r.groups.map((g) => g.displayName).sort()).toEqual(['eng', 'everyone']);
    expect(members(r, 'eng')).not.toContain('user00003');
    expect(members(r, 'eng')).not.toContain('user00020');
    expect(r.listingComplete).toBe(true);
    expect(view(r)).toEqual(view(await fullRead()));
  });

  it('stores nothing and moves no cursor when an incremental read fails part-way; the next read catches up', async () => {
    ad.setMembers(groups.eng!.dn, [...ad.dir.values(ad.dir.get(groups.eng!.dn)!, 'member'), users[40]!.dn]);
    const everyone = ad.dir.values(ad.dir.get(groups.everyone!.dn)!, 'member');
    ad.setMembers(
      groups.everyone!.dn,
      everyone.filter((m) => m !== users[6]!.dn),
    );
    const state = t.store.reads.state('ad');
    const version = t.store.reads.versions().get('ad');
    try {
      ad.faults = { failPage: { base: `OU=Staff,${ad.baseDn}`, page: 2, code: 51 } };
      const failed = await t.fetch().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(describeError(failed)).toMatch(/user ids under OU=Staff.*page 2: busy/);
      expect(t.store.reads.state('ad')).toEqual(state);
      // asked before a run, the same failure is a change: the run reads (and fails), it never skips
      expect(await t.changed()).toBe(true);
      expect(t.store.reads.state('ad')).toEqual(state);

      // a changed group whose ranges cannot be read: unknown in this run, and nothing stored
      ad.faults = { rangeFail: { code: 11 } };
      const partial = await t.fetch();
      expect(partial.report).toMatchObject({ mode: 'incremental', stored: false });
      expect(partial.groups.find((g) => g.displayName === 'everyone')!.complete).toBe(false);
      expect(members(partial, 'eng')).toContain('user00040');
      expect(t.store.reads.state('ad')).toEqual(state);
      expect(t.store.reads.versions().get('ad')).toBe(version);
    } finally {
      ad.faults = {};
    }
    const r = await t.fetch();
    expect(r.report).toMatchObject({ mode: 'incremental', stored: true, changes: { listedGroups: 2, groups: 2 } });
    expect(members(r, 'eng')).toContain('user00040');
    expect(members(r, 'everyone')).not.toContain('user00006');
    expect(view(r)).toEqual(view(await fullRead()));
  });

  it('misses a change the cursor is past, and the next full read (fullReadEvery) catches it', async () => {
    const state = t.store.reads.state('ad')!;
    const ahead = { ...JSON.parse(state.cursor!), usn: String(ad.dir.usn + 1000) };
    t.store.reads.mark('ad', { at: state.readAt, cursor: JSON.stringify(ahead) }, { full: false, changed: false });
    ad.setMembers(groups.eng!.dn, [...ad.dir.values(ad.dir.get(groups.eng!.dn)!, 'member'), users[41]!.dn]);
    const missed = await t.fetch();
    expect(missed.report).toMatchObject({ mode: 'incremental', changes: { listedGroups: 0, ...NONE } });
    expect(members(missed, 'eng')).not.toContain('user00041');

    t.clock.t += 25 * HOUR;
    const full = await t.fetch();
    expect(full.report).toMatchObject({ mode: 'full', why: 'the full read is due (fullReadEvery 24h)', stored: true });
    expect(members(full, 'eng')).toContain('user00041');
  });

  it('reads in full at once when a listed group is neither stored nor changed since the cursor', async () => {
    const state = t.store.reads.state('ad')!;
    const ahead = { ...JSON.parse(state.cursor!), usn: String(ad.dir.usn + 1000) };
    t.store.reads.mark('ad', { at: state.readAt, cursor: JSON.stringify(ahead) }, { full: false, changed: false });
    groups.late = ad.addGroup({ name: 'late', members: [users[50]!.dn] });
    const r = await t.fetch();
    expect(r.report).toMatchObject({ mode: 'full', stored: true });
    expect(r.report.why).toBe(`CN=late,OU=Groups,${ad.baseDn} is listed, yet neither in the stored read nor changed since the cursor`);
    expect(members(r, 'late')).toEqual(['user00050']);
    expect(JSON.parse(t.store.reads.state('ad')!.cursor!).usn).toBe(String(ad.dir.usn));
  });

  it('reads in full when another domain controller answers: USNs are its own', async () => {
    const dc2 = await sandbox({ dc: 'DC2' });
    const other = setup(config(dc2), t.store);
    const r = await other.fetch();
    expect(r.report).toMatchObject({ mode: 'full', stored: true });
    expect(r.report.why).toMatch(/^another server answered \(CN=NTDS Settings,CN=DC2,.*the stored read came from CN=NTDS Settings,CN=DC1,/);
  });
});

describe('LDAP source on AD without a usable cursor (AD sandbox)', () => {
  it('reads in full every time, storing nothing, on a server without USNs', async () => {
    const plain = await sandbox({ usn: false });
    const u = plain.addUser({ name: 'solo' });
    plain.addGroup({ name: 'team', members: [u.dn] });
    const t = setup(config(plain));
    const first = await t.fetch();
    expect(first.report).toMatchObject({ mode: 'full', why: 'no earlier read', stored: false });
    expect(members(first, 'team')).toEqual(['solo']);
    expect(t.store.reads.state('ad')).toBeUndefined();
    expect(await t.changed()).toBe(true);
    expect((await t.fetch()).report).toMatchObject({ mode: 'full', stored: false });
  });

  it('finds out at the full read that the server does not filter on uSNChanged, and stores nothing', async () => {
    const lax = await sandbox({ faults: { ignoreFilter: { attr: 'uSNChanged' } } });
    lax.addGroup({ name: 'team', members: [lax.addUser({ name: 'solo' }).dn] });
    const t = setup(config(lax));
    const r = await t.fetch();
    expect(r.report).toMatchObject({ mode: 'full', stored: false });
    expect(r.groups).toHaveLength(1);
    expect(t.store.reads.state('ad')).toBeUndefined();
    // the same server filtering: stored
    lax.faults = {};
    expect((await t.fetch()).report).toMatchObject({ mode: 'full', stored: true });
  });
});
