import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUPS, PEOPLE } from '../helpers/ldap-directory.js';
import { slapdHere, startSlapd, type Slapd } from '../helpers/slapd.js';
import { ldapOver } from '../helpers/ldap-source.js';

/**
 * users.idAttribute that two entries share (uid across two OUs under users.baseDn). Groups get a
 * warning and an incomplete listing for this; users are put in a map by id, the first one silently
 * overwritten, and a group listing it reads its DN as "not a user": complete, the member left out.
 */
const run = slapdHere();

const ou = (name: string) => `dn: ou=${name},${PEOPLE}\nobjectClass: organizationalUnit\nou: ${name}\n\n`;
const person = (uid: string, where: string, mail: string) =>
  `dn: uid=${uid},ou=${where},${PEOPLE}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid} ${where}\nsn: ${uid}\nmail: ${mail}\n\n`;

describe.runIf(run)('LDAP source, two users with one id (slapd)', () => {
  let slapd: Slapd;
  beforeAll(async () => {
    const ldif =
      `dn: ${PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\ndn: ${GROUPS}\nobjectClass: organizationalUnit\nou: groups\n\n` +
      ou('staff') +
      ou('contractors') +
      person('jdoe', 'staff', 'jdoe@example.com') +
      person('amy', 'staff', 'amy@example.com') +
      person('jdoe', 'contractors', 'jdoe@contractor.example') +
      `dn: cn=staff,${GROUPS}\nobjectClass: groupOfNames\ncn: staff\nmember: uid=jdoe,ou=staff,${PEOPLE}\nmember: uid=amy,ou=staff,${PEOPLE}\n\n`;
    slapd = await startSlapd({ ldif });
  });
  afterAll(async () => {
    await slapd?.close();
  });

  it('does not take the group as complete without the user whose id another user has', async () => {
    const { store, fetch } = ldapOver(slapd, { groups: { baseDn: GROUPS }, users: { baseDn: PEOPLE, idAttribute: 'uid' } });
    try {
      const r = await fetch();
      const staff = r.groups.find((g) => g.displayName === 'staff')!;
      // before the fix: complete, members [amy], and "uid=jdoe,ou=staff,… (not a user under users.baseDn matching users.filter)":
      // jdoe (staff) is removed from the conversation as if no longer a member
      const members = staff.members.map((u) => String(u.raw.dn));
      expect(staff.complete === false || members.includes(`uid=jdoe,ou=staff,${PEOPLE}`)).toBe(true);
    } finally {
      store.close();
    }
  });
});
