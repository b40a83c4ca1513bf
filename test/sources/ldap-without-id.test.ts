import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LdapSourceConfig } from '../../src/config/schema.js';
import { ldapSource, type LdapReadReport } from '../../src/sources/ldap/index.js';
import type { SourceResult } from '../../src/sources/types.js';
import { Store } from '../../src/store/store.js';
import { GROUPS, groupDn, makeDirectory, PEOPLE, toLdif, userDn } from '../helpers/ldap-directory.js';
import { slapdHere, slapdSource, startSlapd, type Slapd } from '../helpers/slapd.js';
import { parsedSource } from '../helpers/source-config.js';

/**
 * A user whose id attribute cannot be read (emptied, or hidden from the bind DN by an ACL) cannot
 * be told apart from someone who left: a group listing one is unknown, never complete without them.
 * Against Debian's OpenLDAP, ids in employeeNumber.
 */
const run = slapdHere();
let slapd: Slapd;
const stores: Store[] = [];

const config = (s: Slapd, groups: Record<string, unknown> = {}) =>
  parsedSource<LdapSourceConfig>(
    slapdSource(s, {
      pageSize: 100,
      modifyTimestampOverlap: '0s',
      groups: { baseDn: GROUPS, ...groups },
      users: { baseDn: PEOPLE, idAttribute: 'employeeNumber' },
    }),
  );

function source(cfg: LdapSourceConfig) {
  const store = Store.open(':memory:');
  stores.push(store);
  const s = ldapSource.create(cfg, { logger: pino({ level: 'silent' }), store });
  return {
    fetch: async () => ({ ...(await s.fetch(new AbortController().signal)), report: (s as unknown as { lastRead: LdapReadReport }).lastRead }),
  };
}

const group = (r: SourceResult, name: string) => r.groups.find((g) => g.displayName === name)!;
const dropId = (uid: string) => slapd.modify(`dn: ${userDn(uid)}\nchangetype: modify\ndelete: employeeNumber\n`);

describe.runIf(run)('LDAP source: users whose id cannot be read (slapd)', () => {
  beforeAll(async () => {
    // team-0: u000000…u000004, team-1: u000005…u000009
    const posix = `dn: cn=posix-ops,${GROUPS}\nobjectClass: posixGroup\ncn: posix-ops\ngidNumber: 5000\nmemberUid: u000002\nmemberUid: u000007\n\n`;
    slapd = await startSlapd({ ldif: toLdif(makeDirectory({ users: 20, groups: 2, membersPerGroup: 5 })) + posix });
  });
  afterAll(async () => {
    for (const s of stores.splice(0)) s.close();
    await slapd?.close();
  });

  it('takes a group listing such a user as unknown in a full read, by DN and by memberUid, and stores no read', async () => {
    await dropId('u000001');
    const r = await source(config(slapd)).fetch();
    expect(group(r, 'team-0')).toMatchObject({ complete: false, unknownReason: `member ${userDn('u000001')} is a user whose id could not be read` });
    expect(group(r, 'team-1')).toMatchObject({ complete: true });
    expect(group(r, 'team-1').members).toHaveLength(5);
    expect(r.warnings.join('\n')).toMatch(/1 user\(s\) have no employeeNumber \(uid=u000001,.*\): the groups listing them are unknown, their removals frozen/);
    expect(r.report).toMatchObject({ mode: 'full', stored: false });

    await dropId('u000002');
    const byUid = await source(config(slapd, { filter: '(objectClass=posixGroup)', memberAttribute: 'memberUid' })).fetch();
    expect(group(byUid, 'posix-ops')).toMatchObject({ complete: false, unknownReason: 'member u000002 is a user whose id could not be read' });
    await slapd.modify(`dn: ${userDn('u000001')}\nchangetype: modify\nadd: employeeNumber\nemployeeNumber: 00000000-0000-4000-8000-000000000001\n`);
    await slapd.modify(`dn: ${userDn('u000002')}\nchangetype: modify\nadd: employeeNumber\nemployeeNumber: 00000000-0000-4000-8000-000000000002\n`);
  });

  it('takes a group as unknown when an incremental read finds that a member lost its id', async () => {
    const s = source(config(slapd));
    const first = await s.fetch();
    expect(first.report).toMatchObject({ mode: 'full', stored: true });
    expect(group(first, 'team-1')).toMatchObject({ complete: true });
    // modifyTimestamp counts whole seconds
    await sleep(1100);
    await dropId('u000006');
    const next = await s.fetch();
    expect(next.report).toMatchObject({ mode: 'incremental' });
    expect(group(next, 'team-1')).toMatchObject({ complete: false, unknownReason: `member ${userDn('u000006')} is a user whose id could not be read` });
    expect(group(next, 'team-0')).toMatchObject({ complete: true });
  });

  it('takes a group as unknown when an incremental read finds it listing a user that had no id at the stored read', async () => {
    // u000015 is in no group: a full read of a directory where it has no id is whole, and stored
    await dropId('u000015');
    await slapd.modify(`dn: ${userDn('u000006')}\nchangetype: modify\nadd: employeeNumber\nemployeeNumber: 00000000-0000-4000-8000-000000000006\n`);
    // a later change moves the cursor past the second u000015 changed in (two seconds on, as a read
    // asks again for the second it starts in): only the listing of ids can tell of it
    await sleep(2100);
    await slapd.modify(`dn: ${userDn('u000019')}\nchangetype: modify\nreplace: mail\nmail: nineteen@example.com\n`);
    const s = source(config(slapd));
    expect((await s.fetch()).report).toMatchObject({ mode: 'full', stored: true });
    await sleep(1100);
    await slapd.modify(`dn: ${groupDn('team-0')}\nchangetype: modify\nadd: member\nmember: ${userDn('u000015')}\n`);
    const next = await s.fetch();
    expect(next.report).toMatchObject({ mode: 'incremental', changes: { listedUsers: 1 } });
    expect(group(next, 'team-0')).toMatchObject({ complete: false, unknownReason: `member ${userDn('u000015')} is a user whose id could not be read` });
    expect(group(next, 'team-1')).toMatchObject({ complete: true });
  });

  it('reads memberUid groups incrementally while a user has no id, a group coming to list one by uid unknown', async () => {
    const posix = config(slapd, { filter: '(objectClass=posixGroup)', memberAttribute: 'memberUid' });
    const s = source(posix);
    // u000015 has no id since the test before, and no group lists it
    const first = await s.fetch();
    expect(first.report).toMatchObject({ mode: 'full', stored: true });
    expect(group(first, 'posix-ops')).toMatchObject({ complete: true });
    await sleep(1100);
    await slapd.modify(`dn: cn=posix-ops,${GROUPS}\nchangetype: modify\nadd: memberUid\nmemberUid: u000003\n`);
    const next = await s.fetch();
    expect(next.report).toMatchObject({ mode: 'incremental', stored: true });
    expect(group(next, 'posix-ops').members.map((m) => m.userName)).toEqual(['u000002', 'u000007', 'u000003']);
    await sleep(1100);
    await slapd.modify(`dn: cn=posix-ops,${GROUPS}\nchangetype: modify\nadd: memberUid\nmemberUid: U000015\n`);
    const listing = await s.fetch();
    expect(listing.report).toMatchObject({ mode: 'incremental', stored: false });
    expect(group(listing, 'posix-ops')).toMatchObject({ complete: false, unknownReason: 'member u000015 is a user whose id could not be read' });
  });
});
