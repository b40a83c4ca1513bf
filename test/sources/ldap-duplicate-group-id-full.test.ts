import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUPS, makeDirectory, PEOPLE, toLdif, userDn } from '../helpers/ldap-directory.js';
import { slapdHere, startSlapd, type Slapd } from '../helpers/slapd.js';
import { ldapOver } from '../helpers/ldap-source.js';

/**
 * groups.idAttribute cn, groups in two OUs; cn=dev,ou=b (older) renamed cn=ops while cn=ops,ou=a
 * exists. A full read keeps whichever of the two the server hands first (slapd: the older entry,
 * the renamed one) as group "ops", complete, and leaves the other out: ops' conversation gets dev's
 * members, and ops' own members are removed. Which of two entries is the group is unknown.
 */
const run = slapdHere();
const A = `ou=a,${GROUPS}`;
const B = `ou=b,${GROUPS}`;

describe.runIf(run)('LDAP source, a full read meeting two groups with one id (slapd)', () => {
  let slapd: Slapd;
  beforeAll(async () => {
    const d = makeDirectory({ users: 10, groups: 0, membersPerGroup: 0 });
    const ou = (dn: string) => `dn: ${dn}\nobjectClass: organizationalUnit\nou: ${/^ou=(\w+)/.exec(dn)![1]}\n\n`;
    const group = (cn: string, ouDn: string, members: string[]) =>
      `dn: cn=${cn},${ouDn}\nobjectClass: groupOfNames\ncn: ${cn}\n${members.map((m) => `member: ${m}`).join('\n')}\n\n`;
    // dev made before ops
    const ldif = toLdif(d) + ou(A) + ou(B) + group('dev', B, [userDn('u000003')]) + group('ops', A, [userDn('u000001'), userDn('u000002')]);
    slapd = await startSlapd({ ldif });
    await slapd.modify(`dn: cn=dev,${B}\nchangetype: modrdn\nnewrdn: cn=ops\ndeleteoldrdn: 1\n`);
  });
  afterAll(async () => {
    await slapd?.close();
  });

  it('does not give the group of a shared id the members of one of them as known', async () => {
    const { store, fetch } = ldapOver(slapd, { groups: { baseDn: GROUPS, idAttribute: 'cn' }, users: { baseDn: PEOPLE } });
    try {
      const r = await fetch();
      const ops = r.groups.find((g) => g.id === 'ops')!;
      expect(r.listingComplete).toBe(false);
      // before the fix: complete, [u000003] (cn=ops,ou=b, the renamed dev): u000001 and u000002 would be removed
      expect(ops.complete).toBe(false);
    } finally {
      store.close();
    }
  });
});
