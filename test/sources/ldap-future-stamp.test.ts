import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatGeneralizedTime } from '../../src/sources/ldap/time.js';
import { GROUPS, groupDn, makeDirectory, PEOPLE, toLdif, userDn } from '../helpers/ldap-directory.js';
import { slapdHere, startSlapd, type Slapd } from '../helpers/slapd.js';
import { ldapOver } from '../helpers/ldap-source.js';

/**
 * One entry whose modifyTimestamp is ahead of the clock (written while the directory's clock ran a
 * day fast, then corrected by NTP; or imported so): the cursor takes "the highest modifyTimestamp
 * the last read saw", so every incremental read asks (modifyTimestamp>=tomorrow) and sees no change
 * at all, a full read only moving the cursor back to the same future stamp.
 */
const run = slapdHere();
const HOUR = 3_600_000;

describe.runIf(run)('LDAP source, a modifyTimestamp in the future (slapd)', () => {
  let slapd: Slapd;
  let dir: string;
  beforeAll(async () => {
    const d = makeDirectory({ users: 20, groups: 2, membersPerGroup: 5 });
    const future = formatGeneralizedTime(Date.now() + 24 * HOUR);
    const ldif = toLdif(d).replace(`uid: u000019\n`, `uid: u000019\ncreateTimestamp: ${future}\nmodifyTimestamp: ${future}\n`);
    slapd = await startSlapd({ ldif });
    dir = mkdtempSync(join(tmpdir(), 'convsync-ldap-'));
    await sleep(1100);
  });
  afterAll(async () => {
    await slapd?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('still sees a member added after the read', async () => {
    const { store, source, report } = ldapOver(slapd, { groups: { baseDn: GROUPS }, users: { baseDn: PEOPLE } }, join(dir, 'convsync.db'));
    try {
      const full = await source.fetch(new AbortController().signal);
      expect(report()).toMatchObject({ mode: 'full', stored: true });
      expect(full.groups.find((g) => g.displayName === 'team-0')!.members.map((u) => u.userName)).not.toContain('u000010');

      await slapd.modify(`dn: ${groupDn('team-0')}\nchangetype: modify\nadd: member\nmember: ${userDn('u000010')}\n`);
      expect(await source.changed!(new AbortController().signal)).toBe(true);
      const r = await source.fetch(new AbortController().signal);
      expect(report()).toMatchObject({ mode: 'incremental' });
      expect(r.groups.find((g) => g.displayName === 'team-0')!.members.map((u) => u.userName)).toContain('u000010');
    } finally {
      store.close();
    }
  });
});
