import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUPS, makeDirectory, OTHER, PEOPLE, toLdif, userDn } from '../helpers/ldap-directory.js';
import { slapdHere, startSlapd, type Slapd } from '../helpers/slapd.js';
import { ldapOver } from '../helpers/ldap-source.js';

/**
 * A nested group outside groups.filter whose name ends in a blank (`cn=contractors\ ,ou=other,…`, an
 * import's stray space, escaped as RFC 4514 wants). The DN as compared drops the escaped blank but
 * keeps its backslash, which then escapes the comma: reading `cn=contractors\,ou=other,…` finds no
 * such entry, and the nested group's members are left out of the group that lists it.
 */
const run = slapdHere();

describe.runIf(run)('LDAP source, a nested group whose RDN ends in an escaped blank (slapd)', () => {
  let slapd: Slapd;
  beforeAll(async () => {
    const d = makeDirectory({ users: 5, groups: 0, membersPerGroup: 0 });
    const ldif =
      toLdif(d) +
      `dn: cn=contractors\\ ,${OTHER}\nobjectClass: groupOfNames\ncn: contractors \nmember: ${userDn('u000002')}\n\n` +
      `dn: cn=ops,${GROUPS}\nobjectClass: groupOfNames\ncn: ops\nmember: ${userDn('u000001')}\nmember: cn=contractors\\ ,${OTHER}\n\n`;
    slapd = await startSlapd({ ldif });
  });
  afterAll(async () => {
    await slapd?.close();
  });

  it('expands the nested group', async () => {
    const { store, fetch } = ldapOver(slapd, { groups: { baseDn: GROUPS }, users: { baseDn: PEOPLE } });
    try {
      const r = await fetch();
      const ops = r.groups.find((g) => g.displayName === 'ops')!;
      expect(r.warnings).toEqual([]);
      // before the fix: [u000001] and "cn=contractors\,ou=other,… (no such entry)"
      expect(ops.members.map((u) => u.userName).sort()).toEqual(['u000001', 'u000002']);
    } finally {
      store.close();
    }
  });
});
