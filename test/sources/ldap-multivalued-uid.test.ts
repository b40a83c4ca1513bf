import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUPS, makeDirectory, PEOPLE, toLdif } from '../helpers/ldap-directory.js';
import { slapdHere, startSlapd, type Slapd } from '../helpers/slapd.js';
import { ldapOver } from '../helpers/ldap-source.js';

/**
 * A user with two uid values (renamed, the old login kept: `uid: jdoe`, `uid: john.doe`). A posixGroup
 * naming them by the second (as nss and every POSIX tool resolve memberUid: equality on uid, any value)
 * finds "no such user": the group is complete without them, and they leave the conversation.
 */
const run = slapdHere();

describe.runIf(run)('LDAP source, memberUid naming a second uid value (slapd)', () => {
  let slapd: Slapd;
  beforeAll(async () => {
    const d = makeDirectory({ users: 3, groups: 0, membersPerGroup: 0 });
    const john = `dn: uid=jdoe,${PEOPLE}\nobjectClass: inetOrgPerson\nuid: jdoe\nuid: john.doe\ncn: John Doe\nsn: Doe\nmail: jdoe@example.com\n\n`;
    const posix = `dn: cn=ops,${GROUPS}\nobjectClass: posixGroup\ncn: ops\ngidNumber: 5000\nmemberUid: u000001\nmemberUid: john.doe\n\n`;
    slapd = await startSlapd({ ldif: toLdif(d) + john + posix });
  });
  afterAll(async () => {
    await slapd?.close();
  });

  it('takes the user named by any of their uids as a member', async () => {
    const { store, fetch } = ldapOver(slapd, {
      groups: { baseDn: GROUPS, filter: '(objectClass=posixGroup)', memberAttribute: 'memberUid' },
      users: { baseDn: PEOPLE },
    });
    try {
      const r = await fetch();
      const ops = r.groups.find((g) => g.displayName === 'ops')!;
      // before the fix: complete, [u000001], warning "uid john.doe (no such user)"
      expect(ops.members.map((u) => u.emails[0]).sort()).toEqual(['jdoe@example.com', 'u000001@example.com']);
    } finally {
      store.close();
    }
  });
});
