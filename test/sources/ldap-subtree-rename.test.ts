import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourceResult } from '../../src/sources/types.js';
import { GROUPS, PEOPLE } from '../helpers/ldap-directory.js';
import { slapdHere, startSlapd, type Slapd } from '../helpers/slapd.js';
import { ldapOver } from '../helpers/ldap-source.js';

/**
 * An OU of users renamed (ou=staff → ou=employees: back-mdb renames a subtree in one modrdn). Every
 * user under it has a new DN, yet none of their modifyTimestamps moves: only the OU's does. The
 * refint overlay rewrites the groups' member values to the new DNs. An incremental read re-reads
 * the groups, meets DNs that are no stored user's, reads them one by one, finds inetOrgPersons
 * it takes as "not a user of this source" and leaves them out: the group is complete without
 * them, and the read is stored.
 */
const run = slapdHere();
const day = new Date(Date.now() - 24 * 3_600_000).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
const stamp = `createTimestamp: ${day}\nmodifyTimestamp: ${day}\n`;
const STAFF = `ou=staff,${PEOPLE}`;

describe.runIf(run)('LDAP source, users whose OU is renamed (slapd, refint)', () => {
  let slapd: Slapd;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'convsync-ldap-'));
    const person = (uid: string) =>
      `dn: uid=${uid},${STAFF}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\nmail: ${uid}@example.com\n${stamp}\n`;
    const ldif =
      `dn: ${PEOPLE}\nobjectClass: organizationalUnit\nou: people\n${stamp}\n` +
      `dn: ${GROUPS}\nobjectClass: organizationalUnit\nou: groups\n${stamp}\n` +
      `dn: ${STAFF}\nobjectClass: organizationalUnit\nou: staff\n${stamp}\n` +
      person('alice') +
      person('bob') +
      `dn: cn=ops,${GROUPS}\nobjectClass: groupOfNames\ncn: ops\nmember: uid=alice,${STAFF}\nmember: uid=bob,${STAFF}\n${stamp}\n`;
    slapd = await startSlapd({ ldif, databaseConf: 'moduleload refint\noverlay refint\nrefint_attributes member' });
  });
  afterAll(async () => {
    await slapd?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const uids = (r: SourceResult) =>
    r.groups
      .find((g) => g.displayName === 'ops')!
      .members.map((u) => u.userName)
      .sort();

  it('keeps the members whose DNs the rename changed', async () => {
    const { store, source, report, readFresh } = ldapOver(slapd, { groups: { baseDn: GROUPS }, users: { baseDn: PEOPLE } }, join(dir, 'convsync.db'));
    try {
      const full = await source.fetch(new AbortController().signal);
      expect(report()).toMatchObject({ mode: 'full', stored: true });
      expect(uids(full)).toEqual(['alice', 'bob']);

      await slapd.modify(`dn: ${STAFF}\nchangetype: modrdn\nnewrdn: ou=employees\ndeleteoldrdn: 1\n`);
      const fresh = await readFresh();
      expect(uids(fresh)).toEqual(['alice', 'bob']);

      // refint rewrote ops' member values without touching its modifyTimestamp; the users' DNs changed without theirs
      expect(await source.changed!(new AbortController().signal)).toBe(true);
      const quiet = await source.fetch(new AbortController().signal);
      expect(uids(quiet)).toEqual(['alice', 'bob']);

      // a later change to ops (carol joins) makes the incremental read re-read it, with the new DNs
      await slapd.modify(
        `dn: uid=carol,ou=employees,${PEOPLE}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: carol\ncn: carol\nsn: carol\nmail: carol@example.com\n\n` +
          `dn: cn=ops,${GROUPS}\nchangetype: modify\nadd: member\nmember: uid=carol,ou=employees,${PEOPLE}\n`,
      );
      const r = await source.fetch(new AbortController().signal);
      expect(report()).toMatchObject({ mode: 'incremental' });
      // before the fix: [carol] (alice and bob "not a user under users.baseDn matching users.filter"), complete, stored
      expect(uids(r)).toEqual(['alice', 'bob', 'carol']);
    } finally {
      store.close();
    }
  });
});
