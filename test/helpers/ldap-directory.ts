import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { SUFFIX } from './slapd.js';

export const PEOPLE = `ou=people,${SUFFIX}`;
export const GROUPS = `ou=groups,${SUFFIX}`;
/** groups that groups.filter does not list, reached only through nesting */
export const OTHER = `ou=other,${SUFFIX}`;

export interface LdapUser {
  uid: string;
  dn: string;
  mail: string;
  /** the chat backend's user id (a Wire UUID), as identity.from: employeeNumber reads it */
  employeeNumber: string;
}

export interface LdapGroup {
  cn: string;
  dn: string;
  /** DNs of users and of other groups */
  members: string[];
}

export interface LdapDirectory {
  users: LdapUser[];
  groups: LdapGroup[];
}

/** a stable UUID for a name, so runs of a test agree */
export function uuidOf(name: string): string {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const userDn = (uid: string) => `uid=${uid},${PEOPLE}`;
export const groupDn = (cn: string, ou = GROUPS) => `cn=${cn},${ou}`;

/**
 * `users` people; `groups` groups team-0… of `membersPerGroup` users each (consecutive, wrapping),
 * deterministic. Tests add their nesting and big groups on top.
 */
export function makeDirectory(opts: { users: number; groups: number; membersPerGroup: number }): LdapDirectory {
  const users = Array.from({ length: opts.users }, (_, n): LdapUser => {
    const uid = `u${String(n).padStart(6, '0')}`;
    return { uid, dn: userDn(uid), mail: `${uid}@example.com`, employeeNumber: uuidOf(uid) };
  });
  const groups = Array.from({ length: opts.groups }, (_, g): LdapGroup => {
    const members = Array.from({ length: opts.membersPerGroup }, (_, i) => users[(g * opts.membersPerGroup + i) % users.length]!.dn);
    return { cn: `team-${g}`, dn: groupDn(`team-${g}`), members: [...new Set(members)] };
  });
  return { users, groups };
}

function userLdif(u: LdapUser): string {
  return `dn: ${u.dn}\nobjectClass: inetOrgPerson\nuid: ${u.uid}\ncn: User ${u.uid}\nsn: ${u.uid}\nmail: ${u.mail}\nemployeeNumber: ${u.employeeNumber}\n\n`;
}

function groupLdif(g: LdapGroup, attribute: string): string {
  const cls = attribute === 'uniqueMember' ? 'groupOfUniqueNames' : 'groupOfNames';
  return `dn: ${g.dn}\nobjectClass: ${cls}\ncn: ${g.cn}\n${g.members.map((m) => `${attribute}: ${m}`).join('\n')}\n\n`;
}

const OUS = [PEOPLE, GROUPS, OTHER].map((dn) => `dn: ${dn}\nobjectClass: organizationalUnit\nou: ${/^ou=([^,]+)/.exec(dn)![1]}\n\n`).join('');

export function toLdif(d: LdapDirectory, attribute: 'member' | 'uniqueMember' = 'member'): string {
  return OUS + d.users.map(userLdif).join('') + d.groups.map((g) => groupLdif(g, attribute)).join('');
}

/**
 * The same LDIF written to a file piece by piece, for directories too large for one string.
 * `modifiedAt` (GeneralizedTime): every entry as last modified then, as a directory that has been
 * quiet for a while (slapadd keeps the operational attributes it is given).
 */
export async function writeLdif(file: string, d: LdapDirectory, opts: { modifiedAt?: string } = {}): Promise<void> {
  const out = createWriteStream(file);
  const stamp =
    opts.modifiedAt === undefined
      ? (s: string) => s
      : (s: string) => `${s.slice(0, -1)}createTimestamp: ${opts.modifiedAt}\nmodifyTimestamp: ${opts.modifiedAt}\n\n`;
  const write = (s: string) => (out.write(s) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  await write(
    OUS.split('\n\n')
      .filter(Boolean)
      .map((e) => stamp(`${e}\n\n`))
      .join(''),
  );
  for (const u of d.users) await write(stamp(userLdif(u)));
  for (const g of d.groups) await write(stamp(groupLdif(g, 'member')));
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
}
