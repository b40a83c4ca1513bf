import { Writable } from 'node:stream';
import { Client } from 'ldapts';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LdapSourceConfig } from '../../src/config/schema.js';
import { AuthError, describeError } from '../../src/errors.js';
import { identityValue } from '../../src/identity/resolve.js';
import { ldapSource, type LdapReadReport } from '../../src/sources/ldap/index.js';
import type { SourceResult } from '../../src/sources/types.js';
import { Store } from '../../src/store/store.js';
import { GROUPS, groupDn, makeDirectory, OTHER, PEOPLE, toLdif, userDn, type LdapDirectory } from '../helpers/ldap-directory.js';
import { BIND_DN, BIND_PASSWORD, slapdHere, slapdSource, startSlapd, SUFFIX, type Slapd } from '../helpers/slapd.js';
import { parsedSource } from '../helpers/source-config.js';

/**
 * The LDAP source against Debian's OpenLDAP on loopback: a directory of 3,000 users, nested groups
 * (a cycle, a group outside groups.filter), a group of 2,500, memberUid and uniqueMember groups,
 * locked accounts; TLS with a test CA; a real size limit; a refused bind.
 */
const run = slapdHere();
const USERS = 3_000;
const BIG = 2_500;

let slapd: Slapd;
let limited: Slapd;
let d: LdapDirectory;

function directory(): LdapDirectory {
  const dir = makeDirectory({ users: USERS, groups: 20, membersPerGroup: 15 });
  const [t0, t1, t2] = dir.groups;
  t0!.members.push(t1!.dn);
  t1!.members.push(t0!.dn); // a cycle
  t2!.members.push(groupDn('contractors', OTHER), userDn('gone'), BIND_DN);
  dir.groups.push({ cn: 'contractors', dn: groupDn('contractors', OTHER), members: [dir.users[2000]!.dn, dir.users[2001]!.dn] });
  dir.groups.push({ cn: 'everyone', dn: groupDn('everyone'), members: dir.users.slice(0, BIG).map((u) => u.dn) });
  return dir;
}

const posix = `dn: cn=posix-ops,${GROUPS}\nobjectClass: posixGroup\ncn: posix-ops\ngidNumber: 5000\nmemberUid: u000001\nmemberUid: U000002\nmemberUid: nobody\n\n`;
const unique = `dn: cn=unique-ops,${GROUPS}\nobjectClass: groupOfUniqueNames\ncn: unique-ops\nuniqueMember: ${userDn('u000003')}#'0101'B\nuniqueMember: UID=u000004, ou=People,${SUFFIX}\n\n`;
const locked = `dn: ${userDn('u000005')}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n`;

function config(s: Slapd, over: Record<string, unknown> = {}, groups: Record<string, unknown> = {}): LdapSourceConfig {
  return parsedSource<LdapSourceConfig>(
    slapdSource(s, {
      pageSize: 200,
      groups: { baseDn: GROUPS, ...groups },
      users: { baseDn: PEOPLE, attributes: ['employeeNumber'], disabledFilter: '(pwdAccountLockedTime=*)' },
      ...over,
    }),
  );
}

const stores: Store[] = [];

/** a first read, so a full one (each with a store of its own) */
async function read(cfg: LdapSourceConfig, logs?: string[]): Promise<SourceResult & { report: LdapReadReport }> {
  const stream = new Writable({ write: (c: Buffer, _e, cb) => (logs?.push(c.toString()), cb()) });
  const store = Store.open(':memory:');
  stores.push(store);
  const source = ldapSource.create(cfg, { logger: pino({ level: 'info' }, stream), store });
  const result = await source.fetch(new AbortController().signal);
  return { ...result, report: (source as unknown as { lastRead: LdapReadReport }).lastRead };
}

const byName = (r: SourceResult, name: string) => r.groups.find((g) => g.displayName === name)!;
const uids = (r: SourceResult, name: string) =>
  byName(r, name)
    .members.map((u) => u.userName!)
    .sort();

/** entryUUIDs as slapd itself reports them, read with a plain client (not the adapter) */
async function entryUuids(s: Slapd, base: string, filter: string): Promise<Map<string, string>> {
  const client = new Client({ url: s.url });
  try {
    await client.bind(BIND_DN, BIND_PASSWORD);
    const { searchEntries } = await client.search(base, { filter, attributes: ['cn', 'entryUUID'], paged: { pageSize: 500 } });
    return new Map(searchEntries.map((e) => [String(e.cn), String(e.entryUUID)]));
  } finally {
    await client.unbind();
  }
}

describe.runIf(run)('LDAP source on OpenLDAP (slapd)', () => {
  beforeAll(async () => {
    d = directory();
    [slapd, limited] = await Promise.all([
      startSlapd({ ldif: toLdif(d) + posix + unique, tls: true }),
      startSlapd({ ldif: toLdif(makeDirectory({ users: 300, groups: 2, membersPerGroup: 5 })), limits: 'size.soft=100 size.hard=100 size.prtotal=100' }),
    ]);
    await slapd.modify(locked);
  });
  afterAll(async () => {
    await slapd?.close();
    await limited?.close();
    for (const s of stores.splice(0)) s.close();
  });

  it('reads groups, members and users page by page, nested groups expanded without looping', async () => {
    const logs: string[] = [];
    const r = await read(config(slapd), logs);
    expect(r.listingComplete).toBe(true);
    // groupOfNames under ou=groups: the teams and everyone, not contractors (ou=other) nor the posix and unique groups
    expect(r.groups).toHaveLength(d.groups.length - 1);
    const ids = await entryUuids(slapd, GROUPS, '(objectClass=*)');
    for (const g of r.groups) expect(g.key).toBe(`corp:${ids.get(g.displayName)}`);

    expect(byName(r, 'everyone').members).toHaveLength(BIG);
    expect(uids(r, 'team-0')).toEqual(uids(r, 'team-1'));
    expect(uids(r, 'team-0')).toHaveLength(30);
    expect(uids(r, 'team-2')).toEqual([...d.groups[2]!.members.slice(0, 15).map((m) => /uid=([^,]+)/.exec(m)![1]!), 'u002000', 'u002001'].sort());
    const warning = r.warnings.find((w) => w.includes('team-2'))!;
    expect(warning).toMatch(
      /2 member\(s\) left out: uid=gone,ou=people,dc=example,dc=com \(no such entry\), cn=convsync,ou=services,dc=example,dc=com \(not a user/,
    );
    expect(byName(r, 'team-2').complete).toBe(true);

    // 3,000 users and 21 groups at 200 a page, plus the locked users, one read for each of 3 outside
    // DNs, and two that ask whether the server filters on modifyTimestamp (the cursor of the next reads)
    expect(r.report).toMatchObject({ mode: 'full', why: 'no earlier read', stored: true, users: USERS, groups: r.groups.length, activeDirectory: false });
    expect(r.report.requests).toBe(Math.ceil(USERS / 200) + 1 + 1 + 3 + 2);
    expect(logs.join('')).toMatch(/"msg":"LDAP directory read"/);
  });

  it('gives identity any attribute listed in users.attributes, the DN in raw, and locked accounts as disabled', async () => {
    const r = await read(config(slapd));
    const members = byName(r, 'everyone').members;
    const u5 = members.find((u) => u.userName === 'u000005')!;
    expect(u5.active).toBe(false);
    expect(members.filter((u) => !u.active)).toHaveLength(1);
    const u9 = members.find((u) => u.userName === 'u000009')!;
    expect(identityValue(u9, 'employeeNumber')).toBe(d.users[9]!.employeeNumber);
    expect(identityValue(u9, 'email')).toBe('u000009@example.com');
    expect(u9.raw.dn).toBe(userDn('u000009'));
  });

  it('reads memberUid and uniqueMember groups', async () => {
    const posixRead = await read(config(slapd, {}, { filter: '(objectClass=posixGroup)', memberAttribute: 'memberUid' }));
    expect(uids(posixRead, 'posix-ops')).toEqual(['u000001', 'u000002']);
    expect(posixRead.warnings.join()).toMatch(/uid nobody \(no such user\)/);
    const uniqueRead = await read(config(slapd, {}, { filter: '(objectClass=groupOfUniqueNames)', memberAttribute: 'uniqueMember' }));
    expect(uids(uniqueRead, 'unique-ops')).toEqual(['u000003', 'u000004']);
  });

  it('fails the read when the server size limit cuts the paged search short', async () => {
    const e = await read(config(limited, { pageSize: 50 })).catch((x: unknown) => x);
    expect(describeError(e)).toMatch(/users under ou=people.*page 3: sizeLimitExceeded.*raise it for the bind DN/);
  });

  it('stops at a refused bind with an auth error that names the bind DN, not the password', async () => {
    const e = await read(config(slapd, { password: 'not-the-password' })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AuthError);
    expect(describeError(e)).toMatch(
      /bind as cn=convsync,ou=services,dc=example,dc=com at ldap:\/\/127\.0\.0\.1:\d+: invalidCredentials.*check bindDn and the password/,
    );
    expect(describeError(e)).not.toContain('not-the-password');
  });

  it('verifies TLS against tls.caFile (ldaps:// and StartTLS), refuses an unknown CA, and warns about plain ldap://', async () => {
    const tls = { tls: { caFile: slapd.caFile } };
    expect((await read(config(slapd, { url: slapd.ldapsUrl, ...tls }))).report.users).toBe(USERS);
    const logs: string[] = [];
    expect((await read(config(slapd, { startTls: true, ...tls }), logs)).report.users).toBe(USERS);
    expect(logs.join('')).not.toMatch(/in the clear/);
    const e = await read(config(slapd, { url: slapd.ldapsUrl })).catch((x: unknown) => x);
    expect(describeError(e)).toMatch(/TLS certificate was not accepted.*give its CA in tls\.caFile/);
    await read(config(slapd), logs);
    expect(logs.join('')).toMatch(/"level":40.*ldap:\/\/ without startTls: the bind password and the directory cross the network in the clear/);
  });
});
