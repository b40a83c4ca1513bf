import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOT_EMAIL, startHarness, type Harness } from '../helpers/harness.js';
import { groupDn, makeDirectory, PEOPLE, GROUPS, toLdif, userDn, type LdapDirectory } from '../helpers/ldap-directory.js';
import { BIND_DN, BIND_PASSWORD, slapdHere, startSlapd, type Slapd } from '../helpers/slapd.js';

/**
 * The real CLI syncing Debian's slapd into the Wire sandbox: 3,000 users, 20 teams (two nested in
 * each other), one team of 2,500. The first sync reads the directory in full; with nothing
 * changed the next reads and plans nothing; a change made with ldapmodify is read incrementally
 * (modifyTimestamp) and converges; a stopped server freezes removals; explain shows a user's DN.
 */
const run = slapdHere();
const BIG = 2_500;

/** the `LDAP directory read` log line of a run, if it read the directory */
function ldapRead(stderr: string): Record<string, unknown> | undefined {
  const line = stderr.split('\n').find((l) => l.includes('"msg":"LDAP directory read"'));
  return line === undefined ? undefined : (JSON.parse(line) as Record<string, unknown>);
}

describe.runIf(run)('LDAP source through the CLI (slapd → Wire sandbox)', () => {
  let h: Harness;
  let slapd: Slapd;
  let d: LdapDirectory;
  const wireOf = (dn: string) => d.users.find((u) => u.dn === dn)!.employeeNumber;
  /** conversation name → sorted Wire ids the directory asks for (team-0 and team-1 nest each other) */
  const wanted = () => {
    const out = new Map<string, string[]>();
    const direct = (cn: string) => d.groups.find((g) => g.cn === cn)!.members.filter((m) => m.startsWith('uid='));
    for (const g of d.groups) {
      const dns = g.cn === 'team-0' || g.cn === 'team-1' ? [...direct('team-0'), ...direct('team-1')] : direct(g.cn);
      out.set(`Team ${g.cn.replace(/^team-/, '')}`, [...new Set(dns.map(wireOf))].sort());
    }
    return out;
  };

  beforeAll(async () => {
    d = makeDirectory({ users: 3_000, groups: 20, membersPerGroup: 12 });
    d.groups[0]!.members.push(d.groups[1]!.dn);
    d.groups[1]!.members.push(d.groups[0]!.dn);
    d.groups.push({ cn: 'team-everyone', dn: groupDn('team-everyone'), members: d.users.slice(0, BIG).map((u) => u.dn) });
    [slapd, h] = await Promise.all([startSlapd({ ldif: toLdif(d) }), startHarness({ groups: 1, membersPerGroup: 1, users: 1, wire: { maxConvSize: 5_000 } })]);
    for (const u of d.users) h.wire.addUser({ id: u.employeeNumber, name: u.uid, handle: u.uid });
    writeFileSync(join(h.dir, 'ldap-password'), `${BIND_PASSWORD}\n`);
    h.writeConfig({
      sources: [
        {
          name: 'corp',
          type: 'ldap',
          url: slapd.url,
          bindDn: BIND_DN,
          passwordFile: './ldap-password',
          pageSize: 500,
          // one clock on loopback: no skew to cover
          modifyTimestampOverlap: '0s',
          groups: { baseDn: GROUPS },
          users: { baseDn: PEOPLE, attributes: ['employeeNumber'] },
        },
      ],
      backend: { type: 'wire', baseUrl: h.wire.url, email: BOT_EMAIL, passwordFile: './wire-password', teamId: h.wire.teamId, maxConversationSize: 5_000 },
      identity: { from: 'employeeNumber' },
      // the source's own log says how each run read the directory
      log: { level: 'info' },
    });
  });
  afterAll(async () => {
    await slapd?.close();
    await h?.close();
  });

  it('syncs the directory, converges after ldapmodify, and freezes removals while the server is down', async () => {
    const first = await h.cli(['sync']);
    expect(first.code, first.stderr).toBe(0);
    expect(h.chatState()).toEqual(wanted());
    expect(h.chatState().get('Team everyone')).toHaveLength(BIG);
    expect(ldapRead(first.stderr)).toMatchObject({ mode: 'full', why: 'no earlier read', stored: true });

    // nothing changed: the source says so (ids and the queries for changes), and nothing is read or planned
    const writesBefore = h.chatWrites().length;
    const quiet = await h.cli(['sync', '--output', 'json']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect((JSON.parse(quiet.stdout) as { plan: { warnings: string[] } }).plan.warnings.join('\n')).toMatch(/^unchanged since run \d+/);
    expect(quiet.stderr).toMatch(/"mode":"check"[^\n]*"msg":"LDAP directory checked"/);
    expect(ldapRead(quiet.stderr)).toBeUndefined();
    expect(h.chatWrites().length).toBe(writesBefore);

    // one leaves team-3, another joins it, and team-everyone loses one
    const team3 = d.groups[3]!;
    const leaver = team3.members[0]!;
    const joiner = d.users[2_900]!.dn;
    await slapd.modify(
      `dn: ${team3.dn}\nchangetype: modify\ndelete: member\nmember: ${leaver}\n-\nadd: member\nmember: ${joiner}\n\n` +
        `dn: ${groupDn('team-everyone')}\nchangetype: modify\ndelete: member\nmember: ${userDn('u000100')}\n`,
    );
    team3.members = [...team3.members.slice(1), joiner];
    d.groups.at(-1)!.members = d.groups.at(-1)!.members.filter((m) => m !== userDn('u000100'));
    const second = await h.cli(['sync']);
    expect(second.code, second.stderr).toBe(0);
    expect(ldapRead(second.stderr)).toMatchObject({ mode: 'incremental', stored: true, changes: { listedGroups: 2, groups: 2 } });
    expect(h.chatState()).toEqual(wanted());
    expect(h.chatState().get('Team 3')).not.toContain(wireOf(leaver));

    // the server stops: the read fails, nothing is removed, the run says so
    await slapd.modify(`dn: ${team3.dn}\nchangetype: modify\ndelete: member\nmember: ${joiner}\n`);
    await slapd.stop();
    const before = h.chatState();
    const writes = h.chatWrites().length;
    const down = await h.cli(['sync']);
    expect(down.code).toBe(1);
    expect(down.stdout + down.stderr).toMatch(/source corp could not be read: ldap:corp.*no LDAP server answered: .*connection refused/);
    expect(h.chatWrites().length).toBe(writes);
    expect(h.chatState()).toEqual(before);

    // back up: the removal made while it was down now goes through
    await slapd.start();
    team3.members = team3.members.filter((m) => m !== joiner);
    const third = await h.cli(['sync']);
    expect(third.code, third.stderr).toBe(0);
    expect(ldapRead(third.stderr)).toMatchObject({ mode: 'incremental', stored: true });
    expect(h.chatState()).toEqual(wanted());

    const explain = await h.cli(['explain', '--user', 'u000005']);
    expect(explain.code, explain.stderr).toBe(0);
    expect(explain.stdout).toContain(`LDAP path: ${userDn('u000005')}`);
    expect(explain.stdout).toContain(`identity: employeeNumber = "${d.users[5]!.employeeNumber}"`);
  });
});
