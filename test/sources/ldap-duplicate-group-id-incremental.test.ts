import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourceResult } from '../../src/sources/types.js';
import { GROUPS, makeDirectory, PEOPLE, userDn, writeLdif } from '../helpers/ldap-directory.js';
import { slapdHere, startSlapd, type Slapd } from '../helpers/slapd.js';
import { ldapOver } from '../helpers/ldap-source.js';

/**
 * groups.idAttribute cn, groups in two OUs. A full read that finds two groups with one id leaves
 * the second out and takes the listing as incomplete. An incremental read after a rename that makes
 * a second cn=ops (cn=dev,ou=b renamed cn=ops) puts the renamed group in place of the stored
 * cn=ops,ou=a: that conversation's members are replaced by dev's, and the read is stored.
 */
const run = slapdHere();
const A = `ou=a,${GROUPS}`;
const B = `ou=b,${GROUPS}`;

describe.runIf(run)('LDAP source, an incremental read meeting a second group with a stored id (slapd)', () => {
  let slapd: Slapd;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'convsync-ldap-'));
    const d = makeDirectory({ users: 10, groups: 0, membersPerGroup: 0 });
    d.groups.push({ cn: 'ops', dn: `cn=ops,${A}`, members: [userDn('u000001'), userDn('u000002')] });
    d.groups.push({ cn: 'dev', dn: `cn=dev,${B}`, members: [userDn('u000003')] });
    const day = new Date(Date.now() - 24 * 3_600_000).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
    await writeLdif(join(dir, 'seed.ldif'), d, { modifiedAt: day });
    const ous = [A, B]
      .map((dn) => `dn: ${dn}\nobjectClass: organizationalUnit\nou: ${/^ou=(\w+)/.exec(dn)![1]}\ncreateTimestamp: ${day}\nmodifyTimestamp: ${day}\n\n`)
      .join('');
    // the sub-OUs before the groups in them
    const { readFileSync, writeFileSync } = await import('node:fs');
    const text = readFileSync(join(dir, 'seed.ldif'), 'utf8');
    const at = text.indexOf(`dn: cn=ops,${A}`);
    writeFileSync(join(dir, 'seed.ldif'), text.slice(0, at) + ous + text.slice(at));
    slapd = await startSlapd({ ldifFile: join(dir, 'seed.ldif') });
  });
  afterAll(async () => {
    await slapd?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const members = (r: SourceResult, name: string) => r.groups.find((g) => g.id === name)!;

  it('does not replace the stored group by the renamed one', async () => {
    const { store, source, report, readFresh } = ldapOver(
      slapd,
      { groups: { baseDn: GROUPS, idAttribute: 'cn' }, users: { baseDn: PEOPLE } },
      join(dir, 'convsync.db'),
    );
    try {
      const full = await source.fetch(new AbortController().signal);
      expect(report()).toMatchObject({ mode: 'full', stored: true });
      expect(
        members(full, 'ops')
          .members.map((u) => u.userName)
          .sort(),
      ).toEqual(['u000001', 'u000002']);

      await slapd.modify(`dn: cn=dev,${B}\nchangetype: modrdn\nnewrdn: cn=ops\ndeleteoldrdn: 1\n`);
      // what a full read makes of it: the listing incomplete, and (ldap-duplicate-group-id-full) ops not known as either
      const fresh = await readFresh();
      expect(fresh.listingComplete).toBe(false);

      const r = await source.fetch(new AbortController().signal);
      const ops = members(r, 'ops');
      // before the fix: ops is complete with [u000003] (u000001 and u000002 removed), the listing complete, the read stored
      expect(r.listingComplete).toBe(false);
      expect(
        ops.complete === false ||
          ops.members
            .map((u) => u.userName)
            .sort()
            .join() === 'u000001,u000002',
      ).toBe(true);
      expect(report().stored).toBe(false);
    } finally {
      store.close();
    }
  });
});
