import { pino } from 'pino';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema, type LdapSourceConfig } from '../../src/config/schema.js';
import { AuthError, describeError } from '../../src/errors.js';
import { identityValue } from '../../src/identity/resolve.js';
import { AdSandbox } from '../../src/sandbox/ldap/server.js';
import { ldapSource, type LdapReadReport } from '../../src/sources/ldap/index.js';
import type { SourceResult } from '../../src/sources/types.js';
import { Store } from '../../src/store/store.js';
import { freePort } from '../helpers/harness.js';

/**
 * The LDAP source against the AD sandbox, a small Active Directory over real LDAP on loopback:
 * objectGUID, userAccountControl, range retrieval, AD's paging, and every failure that must leave
 * the read failed or the group unknown, never shorter.
 */
const USERS = 2_600;
const BIG = 3_700;

let ad: AdSandbox;
const users: { dn: string; guid: string; name: string }[] = [];
const groups: Record<string, { dn: string; guid: string }> = {};

function config(ad: AdSandbox, over: Record<string, unknown> = {}): LdapSourceConfig {
  const parsed = ConfigSchema.parse({
    store: { path: ':memory:' },
    sources: [
      {
        name: 'ad',
        type: 'ldap',
        url: ad.url,
        bindDn: ad.bindDn,
        password: ad.password,
        pageSize: 5000,
        timeoutMs: 2000,
        groups: { baseDn: `OU=Groups,${ad.baseDn}`, filter: '(objectClass=group)', idAttribute: 'objectGUID' },
        users: {
          baseDn: `OU=Staff,${ad.baseDn}`,
          filter: '(&(objectCategory=person)(objectClass=user))',
          idAttribute: 'objectGUID',
          attributes: ['employeeID', 'sAMAccountName'],
        },
        ...over,
      },
    ],
    backend: { type: 'protocol', baseUrl: 'http://127.0.0.1:9', auth: { type: 'bearer', token: 'unused' } },
    mappings: [{ match: { source: 'ad' }, name: '{displayName}' }],
  });
  return parsed.sources[0] as LdapSourceConfig;
}

const stores: Store[] = [];

/** a first read, so a full one (each with a store of its own) */
async function read(cfg: LdapSourceConfig): Promise<SourceResult & { report: LdapReadReport }> {
  const store = Store.open(':memory:');
  stores.push(store);
  const source = ldapSource.create(cfg, { logger: pino({ level: 'silent' }), store });
  const result = await source.fetch(new AbortController().signal);
  return { ...result, report: (source as unknown as { lastRead: LdapReadReport }).lastRead };
}

const group = (r: SourceResult, name: string) => r.groups.find((g) => g.displayName === name)!;

beforeAll(async () => {
  ad = await AdSandbox.start();
  for (let n = 0; n < USERS; n++) {
    const name = `user${String(n).padStart(5, '0')}`;
    const u = ad.addUser({ name, mail: `${name}@corp.example`, disabled: n % 100 === 7, attributes: { employeeID: [`E${n}`] } });
    users.push({ ...u, name });
  }
  groups.eng = ad.addGroup({ name: 'eng', members: users.slice(0, 10).map((u) => u.dn) });
  groups.contractors = ad.addGroup({ name: 'contractors', ou: 'Other', members: [users[20]!.dn, users[21]!.dn] });
  groups.all = ad.addGroup({ name: 'all', members: [groups.eng.dn, groups.contractors.dn, users[30]!.dn] });
  // a cycle: eng contains all, which contains eng
  ad.setMembers(groups.eng.dn, [...users.slice(0, 10).map((u) => u.dn), groups.all.dn]);
  groups.everyone = ad.addGroup({
    name: 'everyone',
    members: [...users.map((u) => u.dn), ...users.slice(0, BIG - USERS).map((_, i) => `CN=gone${i},OU=Staff,${ad.baseDn}`)],
  });
});
afterAll(async () => {
  await ad?.stop();
  for (const s of stores.splice(0)) s.close();
});

describe('LDAP source on Active Directory (AD sandbox)', () => {
  it('reads objectGUIDs in their string form, disabled accounts, ranges of a large group and nested groups', async () => {
    const r = await read(config(ad));
    expect(r.listingComplete).toBe(true);
    expect(r.report.activeDirectory).toBe(true);
    expect(r.groups.map((g) => g.key).sort()).toEqual(['eng', 'all', 'everyone'].map((n) => `ad:${groups[n]!.guid}`).sort());

    const everyone = group(r, 'everyone');
    expect(everyone.complete).toBe(true);
    expect(everyone.members).toHaveLength(USERS);
    // 3,700 values at MaxValRange 1500: the listing's 0-1499, then 1500-2999, then 3000-*
    const ranged = ad.searches.filter((s) => s.attributes.some((a) => /^member;range=/i.test(a)));
    expect(ranged.map((s) => s.attributes[0])).toEqual(['member;range=1500-*', 'member;range=3000-*']);
    expect(r.warnings.join('\n')).toMatch(/everyone.*1100 member\(s\) left out: CN=gone0,OU=Staff,DC=corp,DC=example \(no such entry\)/i);

    const u7 = everyone.members.find((u) => u.userName === 'user00007')!;
    expect(u7.id).toBe(users[7]!.guid);
    expect(u7.active).toBe(false);
    expect(everyone.members.filter((u) => !u.active)).toHaveLength(USERS / 100);
    expect(identityValue(u7, 'employeeID')).toBe('E7');
    expect(identityValue(u7, 'email')).toBe('user00007@corp.example');
    expect(u7.raw.dn).toBe(users[7]!.dn);

    const all = group(r, 'all');
    expect(all.members.map((u) => u.userName).sort()).toEqual([...users.slice(0, 10), users[20]!, users[21]!, users[30]!].map((u) => u.name).sort());
    expect(group(r, 'eng').members).toHaveLength(13);
    // AD's MaxPageSize caps the asked 5000: the users come in pages of 1000
    expect(ad.searches.filter((s) => /OU=Staff/.test(s.base) && s.page !== undefined).map((s) => s.page)).toEqual([1, 2, 3]);
  });

  it('goes on past a page that came back empty with a cookie, and reads every user', async () => {
    ad.faults = { emptyPage: { base: `OU=Staff,${ad.baseDn}`, page: 2 } };
    try {
      const r = await read(config(ad, { pageSize: 500 }));
      expect(group(r, 'everyone').members).toHaveLength(USERS);
      expect(r.report.users).toBe(USERS);
    } finally {
      ad.faults = {};
    }
    // what a plain paged search of the same client library does with that page: it stops there
    ad.faults = { emptyPage: { base: `OU=Staff,${ad.baseDn}`, page: 2 } };
    const client = new Client({ url: ad.url });
    try {
      await client.bind(ad.bindDn, ad.password);
      const { searchEntries } = await client.search(`OU=Staff,${ad.baseDn}`, { filter: '(objectClass=user)', paged: { pageSize: 500 }, attributes: ['cn'] });
      expect(searchEntries.length).toBe(500);
    } finally {
      ad.faults = {};
      await client.unbind();
    }
  });

  it.each([
    ['a refused page', { failPage: { base: 'OU=Staff', page: 2, code: 51 } }, /users under OU=Staff.*page 2: busy/],
    ['a time limit', { failPage: { base: 'OU=Groups', page: 1, code: 3 } }, /groups under OU=Groups.*page 1: timeLimitExceeded.*raise it for the bind DN/],
    ['a page without the paging control', { dropControl: { base: 'OU=Staff', page: 2 } }, /page 2: the answer carried no paged-results control/],
    [
      'a referral',
      { referral: { base: 'OU=Staff', uri: 'ldap://dc9.other.example/DC=other,DC=example' } },
      /referral to ldap:\/\/dc9\.other\.example.*does not follow/,
    ],
    ['no answer', { stall: { base: 'OU=Staff', page: 2 } }, /users under OU=Staff.*page 2: no answer in time/],
  ])('fails the whole read on %s', async (_, faults, message) => {
    const fix = (f: Record<string, { base?: string }>) => Object.fromEntries(Object.entries(f).map(([k, v]) => [k, { ...v, base: `${v.base},${ad.baseDn}` }]));
    ad.faults = fix(faults as Record<string, { base?: string }>);
    try {
      const failed = await read(config(ad, { pageSize: 1000 })).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failed, 'the read must fail').toBeDefined();
      expect(describeError(failed)).toMatch(message);
    } finally {
      ad.faults = {};
    }
  });

  it('makes a group whose range could not be read unknown, and leaves the others whole', async () => {
    ad.faults = { rangeFail: { code: 11 } };
    try {
      const r = await read(config(ad));
      expect(r.listingComplete).toBe(true);
      const everyone = group(r, 'everyone');
      expect(everyone.complete).toBe(false);
      expect(everyone.unknownReason).toMatch(/could not be read to the end.*range retrieval of member of CN=everyone.*from 1500: adminLimitExceeded/);
      expect(group(r, 'all').complete).toBe(true);
    } finally {
      ad.faults = {};
    }
  });

  it('reads disabled accounts through users.disabledFilter (an extensible match) as well', async () => {
    const r = await read(config(ad, { users: { ...config(ad).users, disabledFilter: '(userAccountControl:1.2.840.113556.1.4.803:=2)' } }));
    expect(
      group(r, 'everyone')
        .members.filter((u) => !u.active)
        .map((u) => u.userName),
    ).toEqual(users.filter((_, n) => n % 100 === 7).map((u) => u.name));
  });

  it('stops at a refused bind with an auth error in AD words, without the password', async () => {
    const e = await read(config(ad, { password: 'wrong-secret-value' })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AuthError);
    expect(describeError(e)).toMatch(
      /bind as CN=convsync.*invalidCredentials \(80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data 52e/,
    );
    expect(describeError(e)).not.toContain('wrong-secret-value');
  });

  it('fails over to the next URL when the first does not answer', async () => {
    const dead = `ldap://127.0.0.1:${await freePort()}`;
    const r = await read(config(ad, { url: [dead, ad.url] }));
    expect(r.report.url).toBe(ad.url);
    expect(r.groups).toHaveLength(3);
    const e = await read(config(ad, { url: [dead] })).catch((x: unknown) => x);
    expect(describeError(e)).toMatch(/no LDAP server answered: .*connection refused/);
  });

  it("answers an unbound search with AD's operationsError", async () => {
    const client = new Client({ url: ad.url });
    try {
      const e = await client.search(`OU=Staff,${ad.baseDn}`, { filter: '(objectClass=user)' }).catch((x: unknown) => x as Error);
      expect((e as { code?: number }).code).toBe(1);
      expect((e as Error).message).toMatch(/000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed/);
    } finally {
      await client.unbind();
    }
  });
});
