import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from './harness.js';
import { skipWithout } from './prerequisite.js';

/**
 * Debian's OpenLDAP (slapd) on loopback ports, from a slapd.conf written into a temp directory:
 * no system-wide change. Seeded offline with slapadd (fast for large directories), changed while
 * it runs with ldapmodify. The ppolicy overlay gives pwdAccountLockedTime (locked accounts).
 * Needs `apt-get install slapd ldap-utils`.
 */
export const SUFFIX = 'dc=example,dc=com';
export const ADMIN_DN = `cn=admin,${SUFFIX}`;
export const BIND_DN = `cn=convsync,ou=services,${SUFFIX}`;
const ADMIN_PASSWORD = 'slapd-admin-test-password';
export const BIND_PASSWORD = 'convsync-bind-test-password';

const SLAPD = ['/usr/sbin/slapd', '/usr/local/sbin/slapd'].find((p) => existsSync(p)) ?? 'slapd';
const SLAPADD = ['/usr/sbin/slapadd', '/usr/local/sbin/slapadd'].find((p) => existsSync(p)) ?? 'slapadd';
const MODULES = '/usr/lib/ldap';
const run = promisify(execFile);

/** why slapd cannot run here, or undefined when it can */
export function slapdMissing(): string | undefined {
  if (spawnSync(SLAPD, ['-VV']).error) return 'slapd is not installed';
  if (spawnSync('ldapmodify', ['-VV']).error) return 'ldap-utils (ldapmodify) is not installed';
  for (const m of ['back_mdb.so', 'ppolicy.so']) if (!existsSync(join(MODULES, m))) return `${MODULES}/${m} is missing`;
  return undefined;
}

/** true when the file can run; under CI a missing slapd fails it, elsewhere it is skipped, saying why */
export function slapdHere(): boolean {
  return !skipWithout('OpenLDAP (slapd)', slapdMissing(), 'Install it with: apt-get install slapd ldap-utils');
}

export interface SlapdOptions {
  /** LDIF (below the base entries this helper writes) loaded with slapadd before the start */
  ldif?: string;
  /** the same, from a file (directories too large for a string) */
  ldifFile?: string;
  /** also listen on ldaps:// with a certificate from a test CA (Slapd.caFile) */
  tls?: boolean;
  /** slapd.conf `limits` for the bind DN; default: no size limit on paged searches */
  limits?: string;
  /** slapd.conf `sizelimit` for everyone else (slapd's own default is 500) */
  sizelimit?: number;
  /** false: `lastmod off`, a server that keeps no modifyTimestamp (no cursor for incremental reads) */
  lastmod?: boolean;
  /** further slapd.conf lines for the database, after `overlay ppolicy` (e.g. ppolicy_default) */
  databaseConf?: string;
}

export interface Slapd {
  url: string;
  /** ldaps:// URL when started with tls */
  ldapsUrl?: string;
  /** the PEM of the CA that signed the server certificate, when started with tls */
  caFile?: string;
  dir: string;
  /** applies LDIF change records as the admin (ldapmodify) */
  modify(ldif: string): Promise<void>;
  stop(): Promise<void>;
  /** starts it again on the same ports, with the same data */
  start(): Promise<void>;
  close(): Promise<void>;
}

const BASE_LDIF = `dn: ${SUFFIX}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=services,${SUFFIX}
objectClass: organizationalUnit
ou: services

dn: ${BIND_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: convsync
userPassword: ${BIND_PASSWORD}

`;

function slapdConf(dir: string, opts: SlapdOptions): string {
  const tls = opts.tls
    ? `TLSCACertificateFile ${join(dir, 'ca.pem')}\nTLSCertificateFile ${join(dir, 'server.pem')}\nTLSCertificateKeyFile ${join(dir, 'server.key')}\n`
    : '';
  return `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath ${MODULES}
moduleload back_mdb
moduleload ppolicy
pidfile ${join(dir, 'slapd.pid')}
${tls}sizelimit ${opts.sizelimit ?? 500}
database mdb
maxsize 4294967296
suffix "${SUFFIX}"
rootdn "${ADMIN_DN}"
rootpw ${ADMIN_PASSWORD}
directory ${join(dir, 'db')}
index objectClass,entryUUID,uid,member,uniqueMember,memberUid,modifyTimestamp eq
${opts.lastmod === false ? 'lastmod off\n' : ''}overlay ppolicy
${opts.databaseConf ?? ''}
limits dn.exact="${BIND_DN}" ${opts.limits ?? 'size.soft=unlimited size.hard=unlimited size.prtotal=unlimited'}
access to attrs=userPassword by self auth by anonymous auth by * none
access to * by * read
`;
}

/** a CA and a server certificate for 127.0.0.1 signed by it (openssl, which Debian has) */
function writeCertificates(dir: string): void {
  const ssl = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=convsync test CA']);
  ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext']);
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`slapd exited ${child.exitCode}: ${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (open) return;
    await sleep(50);
  }
  throw new Error(`slapd did not listen on ${port}: ${log()}`);
}

export async function startSlapd(opts: SlapdOptions): Promise<Slapd> {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-slapd-'));
  mkdirSync(join(dir, 'db'));
  if (opts.tls) writeCertificates(dir);
  writeFileSync(join(dir, 'slapd.conf'), slapdConf(dir, opts));
  writeFileSync(join(dir, 'seed.ldif'), BASE_LDIF + (opts.ldif ?? ''));
  const slapadd = (file: string) => run(SLAPADD, ['-q', '-f', join(dir, 'slapd.conf'), '-l', file], { maxBuffer: 16 * 2 ** 20 });
  await slapadd(join(dir, 'seed.ldif'));
  if (opts.ldifFile) await slapadd(opts.ldifFile);
  rmSync(join(dir, 'seed.ldif'));
  const port = await freePort();
  const tlsPort = opts.tls ? await freePort() : undefined;
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = tlsPort ? `ldaps://127.0.0.1:${tlsPort}` : undefined;
  let child: ChildProcess | undefined;
  let log = '';

  const start = async () => {
    log = '';
    const listen = [`${url}/`, ...(ldapsUrl ? [`${ldapsUrl}/`] : [])].join(' ');
    // -d 0: in the foreground, so the test owns the process and stops it by its pid
    child = spawn(SLAPD, ['-d', '0', '-h', listen, '-f', join(dir, 'slapd.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    await waitForPort(port, child, () => log);
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  };
  await start();
  return {
    url,
    ...(ldapsUrl ? { ldapsUrl, caFile: join(dir, 'ca.pem') } : {}),
    dir,
    start,
    stop,
    async modify(ldif) {
      const file = join(dir, `change-${Date.now()}.ldif`);
      writeFileSync(file, ldif);
      await run('ldapmodify', ['-x', '-H', url, '-D', ADMIN_DN, '-w', ADMIN_PASSWORD, '-f', file]);
    },
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** the fields of an LDAP source reading this slapd as its admin that every test shares; `over` is the test's own */
export function slapdSource(s: Slapd, over: Record<string, unknown>) {
  return { name: 'corp', type: 'ldap' as const, url: s.url, bindDn: BIND_DN, password: BIND_PASSWORD, timeoutMs: 5000, ...over };
}
