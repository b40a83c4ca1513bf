import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourceResult } from '../../src/sources/types.js';
import { GROUPS, makeDirectory, PEOPLE, userDn, writeLdif } from '../helpers/ldap-directory.js';
import { slapdHere, startSlapd, type Slapd } from '../helpers/slapd.js';
import { ldapOver } from '../helpers/ldap-source.js';

/**
 * A dynamic group (OpenLDAP dynlist: groupOfURLs, its member values computed from memberURL at each
 * search). A user who leaves the department changes only their own entry: the group's modifyTimestamp
 * never moves, so an incremental read keeps the stored members and the user stays in the
 * conversation until the next full read.
 */
const run = slapdHere();
const DYNAMIC = `cn=ops,${GROUPS}`;

describe.runIf(run)('LDAP source, a dynamic group (slapd dynlist)', () => {
  let slapd: Slapd;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'convsync-ldap-'));
    const d = makeDirectory({ users: 10, groups: 1, membersPerGroup: 3 });
    const day = new Date(Date.now() - 24 * 3_600_000).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
    await writeLdif(join(dir, 'seed.ldif'), d, { modifiedAt: day });
    const { appendFileSync, readFileSync, writeFileSync } = await import('node:fs');
    // u000001 and u000002 are in ops
    const seed = readFileSync(join(dir, 'seed.ldif'), 'utf8').replace(/(uid: u00000[12]\n)/g, '$1departmentNumber: ops\n');
    writeFileSync(join(dir, 'seed.ldif'), seed);
    appendFileSync(
      join(dir, 'seed.ldif'),
      `dn: ${DYNAMIC}\nobjectClass: groupOfURLs\ncn: ops\nmemberURL: ldap:///${PEOPLE}??sub?(departmentNumber=ops)\ncreateTimestamp: ${day}\nmodifyTimestamp: ${day}\n\n`,
    );
    slapd = await startSlapd({
      ldifFile: join(dir, 'seed.ldif'),
      databaseConf: 'include /etc/ldap/schema/dyngroup.schema\nmoduleload dynlist\noverlay dynlist\ndynlist-attrset groupOfURLs memberURL member',
    });
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

  it('sees a user leave the dynamic group in the next incremental read', async () => {
    const { store, source, report, readFresh } = ldapOver(
      slapd,
      { groups: { baseDn: GROUPS, filter: '(|(objectClass=groupOfNames)(objectClass=groupOfURLs))' }, users: { baseDn: PEOPLE } },
      join(dir, 'convsync.db'),
    );
    try {
      const full = await source.fetch(new AbortController().signal);
      expect(report()).toMatchObject({ mode: 'full', stored: true });
      expect(uids(full)).toEqual(['u000001', 'u000002']);

      await slapd.modify(`dn: ${userDn('u000002')}\nchangetype: modify\ndelete: departmentNumber\n`);
      const fresh = await readFresh();
      expect(uids(fresh)).toEqual(['u000001']);

      const r = await source.fetch(new AbortController().signal);
      expect(report()).toMatchObject({ mode: 'incremental' });
      // before the fix: still [u000001, u000002]
      expect(uids(r)).toEqual(['u000001']);
    } finally {
      store.close();
    }
  });
});
