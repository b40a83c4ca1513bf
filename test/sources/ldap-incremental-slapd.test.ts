import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LdapSourceConfig } from '../../src/config/schema.js';
import { ldapSource, type LdapReadReport } from '../../src/sources/ldap/index.js';
import type { SourceResult } from '../../src/sources/types.js';
import { Store } from '../../src/store/store.js';
import { GROUPS, groupDn, makeDirectory, OTHER, PEOPLE, toLdif, userDn } from '../helpers/ldap-directory.js';
import { BIND_DN, slapdHere, slapdSource, startSlapd, type Slapd } from '../helpers/slapd.js';
import { parsedSource } from '../helpers/source-config.js';

/**
 * Incremental reads by modifyTimestamp against Debian's OpenLDAP: a full read first, stored in a
 * SQLite file; then only the id listings and the queries for what changed since the cursor; changes
 * made with ldapmodify (members, a rename, a locked account, deletions) merged; a change the
 * cursor misses caught by the scheduled full read; a server without modifyTimestamp read in full.
 */
const run = slapdHere();
const USERS = 3_000;
const logger = pino({ level: 'silent' });
const HOUR = 3_600_000;

let slapd: Slapd;
const cleanup: (() => unknown)[] = [];

function directoryLdif(users = USERS, groups = 12): string {
  const d = makeDirectory({ users, groups, membersPerGroup: 15 });
  const [t0, t1, t2] = d.groups;
  t0!.members.push(t1!.dn);
  t1!.members.push(t0!.dn);
  t2!.members.push(groupDn('contractors', OTHER), userDn('gone'), BIND_DN);
  d.groups.push({ cn: 'contractors', dn: groupDn('contractors', OTHER), members: [d.users[2000 % users]!.dn] });
  return toLdif(d);
}

function config(s: Slapd, over: Record<string, unknown> = {}): LdapSourceConfig {
  return parsedSource<LdapSourceConfig>(
    slapdSource(s, {
      pageSize: 100,
      // one clock on loopback: no skew to cover
      modifyTimestampOverlap: '0s',
      groups: { baseDn: GROUPS },
      users: { baseDn: PEOPLE, attributes: ['employeeNumber'], disabledFilter: '(pwdAccountLockedTime=*)' },
      ...over,
    }),
  );
}

type Reported = SourceResult & { report: LdapReadReport };

/** a source with a store in a SQLite file and a clock for its schedule */
function setup(cfg: LdapSourceConfig) {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-ldap-inc-'));
  const store = Store.open(join(dir, 'convsync.db'));
  cleanup.push(
    () => store.close(),
    () => rmSync(dir, { recursive: true, force: true }),
  );
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

/** what a first read of the directory finds now, with a store of its own */
async function fullRead(cfg: LdapSourceConfig): Promise<Reported> {
  return setup(cfg).fetch();
}

/** what a plan takes of a read: each group's name, whether it is known, its members and whether they are active */
function view(r: SourceResult) {
  return Object.fromEntries(
    r.groups.map((g) => [g.key, { name: g.displayName, complete: g.complete, members: g.members.map((u) => `${u.userName}:${u.active}`).sort() }]),
  );
}

const members = (r: SourceResult, name: string) => r.groups.find((g) => g.displayName === name)!.members.map((u) => u.userName);

/** past the current second: modifyTimestamp counts whole seconds, and what a read starts in is asked again */
const nextSecond = () => sleep(1020 - (Date.now() % 1000));

const NONE = { groups: 0, deletedGroups: 0, users: 0, deletedUsers: 0, outside: 0 };

describe.runIf(run)('LDAP source, incremental reads by modifyTimestamp (slapd)', () => {
  let t: ReturnType<typeof setup>;
  let fullRequests = 0;

  beforeAll(async () => {
    slapd = await startSlapd({ ldif: directoryLdif() });
    await nextSecond();
    t = setup(config(slapd));
  });
  afterAll(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
    await slapd?.close();
  });

  it('reads in full first; then, with nothing changed, asks only for ids and what changed since the cursor, and gives the same groups', async () => {
    const full = await t.fetch();
    fullRequests = full.report.requests;
    expect(full.report).toMatchObject({ mode: 'full', why: 'no earlier read', stored: true, users: USERS });
    expect(JSON.parse(t.store.reads.state('corp')!.cursor!)).toMatchObject({ v: 1, kind: 'modifyTimestamp', server: slapd.url });
    const version = t.store.reads.versions().get('corp');

    // what a scheduled run asks first: ids of groups, users and disabled users (one page each), groups and
    // users changed since the cursor (none), and contractors, a nested group outside the listings, read again
    expect(await t.changed()).toBe(false);
    expect(t.lastCheck()).toMatchObject({ mode: 'check', requests: 6, changes: { listedGroups: 0, listedUsers: 0, ...NONE } });

    const quiet = await t.fetch();
    expect(quiet.report).toMatchObject({ mode: 'incremental', stored: true, requests: 6, changes: { listedGroups: 0, listedUsers: 0, ...NONE } });
    expect(quiet.report.requests).toBeLessThanOrEqual(fullRequests / 5);
    expect(view(quiet)).toEqual(view(full));
    expect(quiet.listingComplete).toBe(true);
    expect(quiet.warnings.join('\n')).toMatch(/uid=gone,ou=people,dc=example,dc=com \(no such entry\)/);
    expect(t.store.reads.versions().get('corp')).toBe(version);
  });

  it('picks up members added and removed, a renamed group and a locked account with the next incremental read', async () => {
    const before = await t.fetch();
    const team4Key = before.groups.find((g) => g.displayName === 'team-4')!.key;
    await slapd.modify(
      `dn: ${groupDn('team-3')}\nchangetype: modify\ndelete: member\nmember: ${userDn('u000045')}\n-\nadd: member\nmember: ${userDn('u002999')}\n\n` +
        `dn: ${groupDn('team-4')}\nchangetype: modrdn\nnewrdn: cn=team-4-renamed\ndeleteoldrdn: 1\n\n` +
        `dn: ${userDn('u000050')}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n`,
    );
    expect(await t.changed()).toBe(true);
    const r = await t.fetch();
    expect(r.report).toMatchObject({
      mode: 'incremental',
      stored: true,
      changes: { listedGroups: 2, groups: 2, listedUsers: 1, users: 1, deletedGroups: 0, deletedUsers: 0 },
    });
    expect(members(r, 'team-3')).toContain('u002999');
    expect(members(r, 'team-3')).not.toContain('u000045');
    expect(r.groups.find((g) => g.displayName === 'team-4-renamed')!.key).toBe(team4Key);
    expect(r.groups.flatMap((g) => g.members).find((u) => u.userName === 'u000050')!.active).toBe(false);
    expect(view(r)).toEqual(view(await fullRead(config(slapd))));
  });

  it('sees a deleted group and a deleted user through the id listings', async () => {
    await nextSecond();
    await t.fetch();
    await slapd.modify(`dn: ${groupDn('team-5')}\nchangetype: delete\n\ndn: ${userDn('u000100')}\nchangetype: delete\n`);
    const r = await t.fetch();
    // no refint overlay: team-6 still names the deleted user, now an entry that does not exist
    expect(r.report).toMatchObject({
      mode: 'incremental',
      stored: true,
      changes: { listedGroups: 0, listedUsers: 0, groups: 0, deletedGroups: 1, deletedUsers: 1, outside: 1 },
    });
    expect(r.groups.map((g) => g.displayName)).not.toContain('team-5');
    expect(members(r, 'team-6')).not.toContain('u000100');
    expect(r.warnings.join('\n')).toMatch(/team-6.*uid=u000100,ou=people,dc=example,dc=com \(no such entry\)/);
    expect(r.listingComplete).toBe(true);
    expect(view(r)).toEqual(view(await fullRead(config(slapd))));
  });

  it('misses a change the cursor is past, and the next full read (fullReadEvery) catches it', async () => {
    const state = t.store.reads.state('corp')!;
    // as if the cursor had been taken on a clock an hour ahead of the directory's
    const ahead = { ...JSON.parse(state.cursor!), startedAt: Date.now() + HOUR };
    t.store.reads.mark('corp', { at: state.readAt, cursor: JSON.stringify(ahead) }, { full: false, changed: false });
    await slapd.modify(`dn: ${groupDn('team-7')}\nchangetype: modify\nadd: member\nmember: ${userDn('u002998')}\n`);

    const missed = await t.fetch();
    expect(missed.report).toMatchObject({ mode: 'incremental', changes: { listedGroups: 0, ...NONE } });
    expect(members(missed, 'team-7')).not.toContain('u002998');

    t.clock.t += 25 * HOUR;
    const full = await t.fetch();
    expect(full.report).toMatchObject({ mode: 'full', why: 'the full read is due (fullReadEvery 24h)', stored: true });
    expect(members(full, 'team-7')).toContain('u002998');
    expect(view(full)).toEqual(view(await fullRead(config(slapd))));
  });
});

describe.runIf(run)('LDAP source, incremental reads on servers that limit them (slapd)', () => {
  afterAll(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('asks again at pageSize when the server refuses the larger pages of the id listings (size.pr)', async () => {
    const s = await startSlapd({ ldif: directoryLdif(300, 3), limits: 'size.soft=unlimited size.hard=unlimited size.pr=50 size.prtotal=unlimited' });
    cleanup.push(() => s.close());
    await nextSecond();
    const cfg = config(s, { pageSize: 50 });
    const t = setup(cfg);
    const full = await t.fetch();
    const r = await t.fetch();
    // each listing: the refused first page at idPageSize, then 1 page of groups, 6 of users or 1 of disabled users at 50;
    // two queries for changes; contractors
    expect(r.report).toMatchObject({ mode: 'incremental', stored: true, requests: 1 + 1 + 1 + 6 + 1 + 1 + 2 + 1 });
    expect(view(r)).toEqual(view(full));
  });

  it('reads in full every time, storing nothing, on a server that keeps no modifyTimestamp (lastmod off)', async () => {
    const s = await startSlapd({ ldif: directoryLdif(300, 3), lastmod: false });
    cleanup.push(() => s.close());
    // without lastmod slapd keeps no entryUUID either
    const cfg = config(s, { groups: { baseDn: GROUPS, idAttribute: 'cn' }, users: { baseDn: PEOPLE, idAttribute: 'uid' } });
    const t = setup(cfg);
    const first = await t.fetch();
    expect(first.report).toMatchObject({ mode: 'full', stored: false });
    expect(first.groups.length).toBe(3);
    expect(t.store.reads.state('corp')).toBeUndefined();
    expect(await t.changed()).toBe(true);
    expect((await t.fetch()).report).toMatchObject({ mode: 'full', why: 'no earlier read', stored: false });
  });
});
