import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUPS, makeDirectory, PEOPLE, toLdif } from '../helpers/ldap-directory.js';
import { slapdHere, startSlapd, type Slapd } from '../helpers/slapd.js';
import { ldapOver } from '../helpers/ldap-source.js';

/**
 * A member DN whose non-ASCII characters are written as hex escapes of their UTF-8 bytes (RFC 4514
 * §2.4: `Ren\C3\A9`), as a directory loaded with slapadd (slapcat/slapadd migrations, tools that
 * escape) keeps it, while the user's own DN comes back as UTF-8 (`René`). Both name one entry.
 */
const run = slapdHere();

describe.runIf(run)('LDAP source, member DNs with hex-escaped UTF-8 (slapd)', () => {
  let slapd: Slapd;
  beforeAll(async () => {
    const d = makeDirectory({ users: 3, groups: 0, membersPerGroup: 0 });
    const rene = `dn: cn=René Müller,${PEOPLE}\nobjectClass: inetOrgPerson\nuid: rmuller\ncn: René Müller\nsn: Müller\nmail: rene@example.com\n\n`;
    const group =
      `dn: cn=équipe,${GROUPS}\nobjectClass: groupOfNames\ncn: équipe\n` + `member: cn=Ren\\C3\\A9 M\\C3\\BCller,${PEOPLE}\nmember: uid=u000000,${PEOPLE}\n\n`;
    slapd = await startSlapd({ ldif: toLdif(d) + rene + group });
  });
  afterAll(async () => {
    await slapd?.close();
  });

  it('takes the escaped member value as the user it names, not as a missing entry', async () => {
    const { store, fetch } = ldapOver(slapd, { groups: { baseDn: GROUPS }, users: { baseDn: PEOPLE } });
    try {
      const r = await fetch();
      const g = r.groups.find((x) => x.displayName === 'équipe')!;
      expect(r.warnings).toEqual([]);
      expect(g.complete).toBe(true);
      // before the fix: only u000000, and the warning "cn=renã© mã¼ller,… (no such entry)": René would leave the conversation
      expect(g.members.map((u) => u.userName).sort()).toEqual(['rmuller', 'u000000']);
    } finally {
      store.close();
    }
  });
});
