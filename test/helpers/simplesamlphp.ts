import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inflateRawSync } from 'node:zlib';
import { request } from 'undici';
import { freePort } from './harness.js';
import { makeKeyPair } from './saml-idp.js';

/** Debian's SimpleSAMLphp: its document root and the config that ours extends */
const WWW = '/usr/share/simplesamlphp/www';
const DEFAULT_CONFIG = '/etc/simplesamlphp/config.php';
export const INSTALL_SIMPLESAMLPHP = 'Install it with `apt-get install simplesamlphp php-cli php-xml php-mbstring` (.ci/run does)';

/** why Debian's SimpleSAMLphp cannot run here, or undefined when it can */
export function simpleSamlPhpMissing(): string | undefined {
  const php = spawnSync('php', ['-m'], { encoding: 'utf8' });
  if (php.status !== 0) return 'php is not installed';
  if (!/^dom$/im.test(php.stdout)) return 'php-xml is not installed';
  if (!/^mbstring$/im.test(php.stdout)) return 'php-mbstring is not installed';
  if (!existsSync(WWW) || !existsSync(DEFAULT_CONFIG)) return 'simplesamlphp is not installed';
  return undefined;
}

export interface IdpUser {
  password: string;
  mail: string;
  groups: string[];
}

export interface SpSide {
  entityId: string;
  acs: string;
}

const phpString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const phpList = (xs: string[]) => `[${xs.map(phpString).join(', ')}]`;

function writeConfig(dir: string, base: string, sp: SpSide, users: Record<string, IdpUser>): void {
  const keys = makeKeyPair('simplesamlphp test idp');
  for (const d of ['cert', 'metadata', 'data', 'tmp', 'log', 'sessions']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'cert', 'idp.key'), keys.key);
  writeFileSync(join(dir, 'cert', 'idp.crt'), keys.cert);
  const at = (d: string) => phpString(join(dir, d));
  writeFileSync(
    join(dir, 'config.php'),
    `<?php
require ${phpString(DEFAULT_CONFIG)};
$config = array_merge($config, [
  'baseurlpath' => ${phpString(`${base}/`)},
  'certdir' => ${at('cert')}, 'metadatadir' => ${at('metadata')}, 'datadir' => ${at('data')},
  'tempdir' => ${at('tmp')}, 'loggingdir' => ${at('log')}, 'logging.handler' => 'file',
  'secretsalt' => 'convsync-test-salt',
  'auth.adminpassword' => 'convsync-test-admin',
  'enable.saml20-idp' => true,
  'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true],
  'session.cookie.secure' => false,
  'session.phpsession.savepath' => ${at('sessions')},
  'metadata.sources' => [['type' => 'flatfile']],
]);
`,
  );
  const entries = Object.entries(users).map(
    ([uid, u]) =>
      `    ${phpString(`${uid}:${u.password}`)} => ['uid' => [${phpString(uid)}], 'mail' => [${phpString(u.mail)}], 'groups' => ${phpList(u.groups)}],`,
  );
  writeFileSync(
    join(dir, 'authsources.php'),
    `<?php\n$config = [\n  'admin' => ['core:AdminPassword'],\n  'users' => ['exampleauth:UserPass',\n${entries.join('\n')}\n  ],\n];\n`,
  );
  writeFileSync(
    join(dir, 'metadata', 'saml20-idp-hosted.php'),
    `<?php
$metadata['__DYNAMIC:1__'] = [
  'host' => '__DEFAULT__', 'privatekey' => 'idp.key', 'certificate' => 'idp.crt', 'auth' => 'users',
  'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
  'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'saml20.sign.response' => true,
  'saml20.sign.assertion' => true,
];
`,
  );
  writeFileSync(
    join(dir, 'metadata', 'saml20-sp-remote.php'),
    `<?php
$metadata[${phpString(sp.entityId)}] = [
  'AssertionConsumerService' => ${phpString(sp.acs)},
  'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  'simplesaml.nameidattribute' => 'mail',
];
`,
  );
}

export interface SimpleSamlPhp {
  base: string;
  metadata: string;
  stop(): void;
}

/** SimpleSAMLphp as an IdP under `php -S` on loopback, once its metadata answers */
export async function startSimpleSamlPhp(dir: string, sp: SpSide, users: Record<string, IdpUser>): Promise<SimpleSamlPhp> {
  const base = `http://127.0.0.1:${await freePort()}`;
  writeConfig(dir, base, sp, users);
  const php: ChildProcess = spawn('php', ['-S', base.replace('http://', ''), '-t', WWW], {
    env: { ...process.env, SIMPLESAMLPHP_CONFIG_DIR: dir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  php.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let metadata = '';
  for (let i = 0; i < 100 && !metadata.includes('IDPSSODescriptor') && php.exitCode === null; i++) {
    await sleep(100);
    metadata = await request(`${base}/saml2/idp/metadata.php`)
      .then((r) => r.body.text())
      .catch(() => '');
  }
  if (!metadata.includes('IDPSSODescriptor')) {
    php.kill('SIGTERM');
    const log = existsSync(join(dir, 'log', 'simplesamlphp.log')) ? readFileSync(join(dir, 'log', 'simplesamlphp.log'), 'utf8').slice(-2000) : '';
    throw new Error(`SimpleSAMLphp did not serve its metadata at ${base}: ${metadata.slice(0, 500)}\n${stderr}\n${log}`);
  }
  return { base, metadata, stop: () => php.kill('SIGTERM') };
}

/** a minimal browser: follows redirects and keeps cookies */
export class Browser {
  private cookies = new Map<string, string>();

  async go(url: string, form?: Record<string, string>, follow = true): Promise<{ url: string; status: number; body: string; location?: string }> {
    for (let hops = 0; hops < 10; hops++) {
      const res = await request(url, {
        method: form ? 'POST' : 'GET',
        headers: {
          cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
          ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        ...(form ? { body: new URLSearchParams(form).toString() } : {}),
      });
      const setCookie = res.headers['set-cookie'];
      for (const c of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
        const [pair] = c.split(';');
        const eq = pair!.indexOf('=');
        this.cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
      }
      const body = await res.body.text();
      const location = res.headers.location as string | undefined;
      if (follow && res.statusCode >= 300 && res.statusCode < 400 && location) {
        url = new URL(location, url).toString();
        form = undefined;
        continue;
      }
      return { url, status: res.statusCode, body, ...(location ? { location } : {}) };
    }
    throw new Error('too many redirects');
  }
}

const unescapeHtml = (s: string) =>
  s
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCharCode(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');

/** the value of a hidden form field in an HTML page */
export function hidden(html: string, name: string): string | undefined {
  const m =
    new RegExp(`<input[^>]*name="${name}"[^>]*value="([^"]*)"`, 'i').exec(html) ?? new RegExp(`<input[^>]*value="([^"]*)"[^>]*name="${name}"`, 'i').exec(html);
  return m ? unescapeHtml(m[1]!) : undefined;
}

/**
 * An SP-initiated login through a fresh browser: convsync's /saml/login, the IdP's login form,
 * and the SAMLResponse the IdP's auto-post page carries (not posted: the caller decides).
 */
export async function signIn(spUrl: string, user: string, password: string): Promise<{ requestId: string; samlResponse: string }> {
  const browser = new Browser();
  const start = await browser.go(`${spUrl}/saml/login`, undefined, false);
  if (start.status !== 302 || !start.location) throw new Error(`/saml/login answered ${start.status}: ${start.body.slice(0, 300)}`);
  const authnRequest = inflateRawSync(Buffer.from(new URL(start.location).searchParams.get('SAMLRequest')!, 'base64')).toString();
  const requestId = /ID="([^"]+)"/.exec(authnRequest)![1]!;
  const form = await browser.go(start.location);
  if (!/name="password"/.test(form.body)) throw new Error(`no login form at ${form.url}: ${form.body.slice(0, 300)}`);
  const authState = hidden(form.body, 'AuthState') ?? new URL(form.url).searchParams.get('AuthState')!;
  const answer = await browser.go(new URL('loginuserpass.php', form.url).toString(), { username: user, password, AuthState: authState });
  const samlResponse = hidden(answer.body, 'SAMLResponse');
  if (!samlResponse) throw new Error(`no SAMLResponse after the login of ${user}: ${answer.body.slice(0, 500)}`);
  return { requestId, samlResponse };
}
