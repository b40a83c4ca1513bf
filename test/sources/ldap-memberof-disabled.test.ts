import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourceResult } from '../../src/sources/types.js';
import { GROUPS, groupDn, makeDirectory, OTHER, PEOPLE, userDn, writeLdif } from '../helpers/ldap-directory.js';
import { slapdHere, startSlapd, type Slapd } from '../helpers/slapd.js';
import { ldapOver } from '../helpers/ldap-source.js';

/**
 * users.disabledFilter on memberOf ("members of cn=suspended are disabled"), as the server keeps it:
 * the memberof overlay (writes memberOf into the user entry) or dynlist (computes it, OpenLDAP 2.5's
 * replacement). A user added to cn=suspended must be disabled by the next read, incremental or not.
 * The directory has been quiet for a day (every modifyTimestamp a day old): the default overlap.
 */
const run = slapdHere();
const SUSPENDED = groupDn('suspended', OTHER);

const OVERLAYS: Record<string, string> = {
  memberof: 'moduleload memberof\noverlay memberof',
  dynlist: 'include /etc/ldap/schema/dyngroup.schema\nmoduleload dynlist\noverlay dynlist\ndynlist-attrset groupOfURLs memberURL member+memberOf@groupOfNames',
};

describe.runIf(run).each(Object.keys(OVERLAYS))('LDAP source, a user disabled through memberOf (slapd, %s)', (overlay) => {
  let slapd: Slapd;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'convsync-ldap-'));
    const d = makeDirectory({ users: 20, groups: 2, membersPerGroup: 5 });
    d.groups.push({ cn: 'suspended', dn: SUSPENDED, members: [userDn('u000019')] });
    const day = new Date(Date.now() - 24 * 3_600_000).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
    await writeLdif(join(dir, 'seed.ldif'), d, { modifiedAt: day });
    slapd = await startSlapd({ ldifFile: join(dir, 'seed.ldif'), databaseConf: OVERLAYS[overlay] });
  });
  afterAll(async () => {
    await slapd?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const active = (r: SourceResult, uid: string) => r.groups.flatMap((g) => g.members).find((u) => u.userName === uid)!.active;

  it('sees a user disabled by joining cn=suspended in the next incremental read', async () => {
    const { store, source, report, readFresh } = ldapOver(
      slapd,
      { groups: { baseDn: GROUPS }, users: { baseDn: PEOPLE, disabledFilter: `(memberOf=${SUSPENDED})` } },
      join(dir, 'convsync.db'),
    );
    try {
      const full = await source.fetch(new AbortController().signal);
      expect(report()).toMatchObject({ mode: 'full', stored: true });
      expect(active(full, 'u000001')).toBe(true);

      await slapd.modify(`dn: ${SUSPENDED}\nchangetype: modify\nadd: member\nmember: ${userDn('u000001')}\n`);
      // a full read (a store of its own) sees it disabled
      const fresh = await readFresh();
      expect(active(fresh, 'u000001')).toBe(false);

      expect(await source.changed!(new AbortController().signal)).toBe(true);
      const r = await source.fetch(new AbortController().signal);
      expect(report()).toMatchObject({ mode: 'incremental' });
      expect(active(r, 'u000001')).toBe(false);
    } finally {
      store.close();
    }
  });
});
