import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema, type SamlSourceConfig } from '../../src/config/schema.js';
import { listen } from '../../src/server/http.js';
import { mountSaml } from '../../src/server/saml.js';
import { Store } from '../../src/store/store.js';
import { freePort } from '../helpers/harness.js';
import { makeKeyPair } from '../helpers/saml-idp.js';

/**
 * Debian's SimpleSAMLphp (a real, independent IdP) under php's built-in server on loopback:
 * a browser-less SP-initiated login, its signed answer posted to convsync's ACS.
 * Needs `apt-get install simplesamlphp php-cli php-xml php-mbstring`; skipped, saying so, without.
 */
const WWW = '/usr/share/simplesamlphp/www';
const DEFAULT_CONFIG = '/etc/simplesamlphp/config.php';
const php = spawnSync('php', ['-m'], { encoding: 'utf8' });
const missing =
  php.status !== 0 ? 'php is not installed' : !/\bdom\b/i.test(php.stdout) ? 'php-xml is not installed' : !existsSync(WWW) || !existsSync(DEFAULT_CONFIG) ? 'simplesamlphp is not installed' : undefined;
if (missing) console.log(`SimpleSAMLphp test skipped: ${missing} (apt-get install simplesamlphp php-cli php-xml php-mbstring)`);

const PUBLIC = 'https://convsync.test';
const ENTITY = `${PUBLIC}/saml/metadata`;
const ACS = `${PUBLIC}/saml/acs`;

const phpString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function writeIdpConfig(dir: string, base: string): void {
  const keys = makeKeyPair('simplesamlphp test idp');
  for (const d of ['cert', 'metadata', 'data', 'tmp', 'log', 'sessions']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'cert', 'idp.key'), keys.key);
  writeFileSync(join(dir, 'cert', 'idp.crt'), keys.cert);
  writeFileSync(
    join(dir, 'config.php'),
    `<?php
require ${phpString(DEFAULT_CONFIG)};
$config = array_merge($config, [
  'baseurlpath' => ${phpString(`${base}/`)},
  'certdir' => ${phpString(join(dir, 'cert'))},
  'metadatadir' => ${phpString(join(dir, 'metadata'))},
  'datadir' => ${phpString(join(dir, 'data'))},
  'tempdir' => ${phpString(join(dir, 'tmp'))},
  'loggingdir' => ${phpString(join(dir, 'log'))},
  'logging.handler' => 'file',
  'secretsalt' => 'convsync-test-salt',
  'auth.adminpassword' => 'convsync-test-admin',
  'enable.saml20-idp' => true,
  'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true],
  'session.cookie.secure' => false,
  'session.phpsession.savepath' => ${phpString(join(dir, 'sessions'))},
  'metadata.sources' => [['type' => 'flatfile']],
]);
`,
  );
  writeFileSync(
    join(dir, 'authsources.php'),
    `<?php
$config = [
  'admin' => ['core:AdminPassword'],
  'users' => ['exampleauth:UserPass',
    'alice:alice-password' => ['uid' => ['alice'], 'mail' => ['alice@corp.test'], 'groups' => ['team-eng', 'team-ops']],
    'bob:bob-password' => ['uid' => ['bob'], 'mail' => ['bob@corp.test'], 'groups' => ['team-eng']],
  ],
];
`,
  );
  writeFileSync(
    join(dir, 'metadata', 'saml20-idp-hosted.php'),
    `<?php
$metadata['__DYNAMIC:1__'] = [
  'host' => '__DEFAULT__',
  'privatekey' => 'idp.key',
  'certificate' => 'idp.crt',
  'auth' => 'users',
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
$metadata[${phpString(ENTITY)}] = [
  'AssertionConsumerService' => ${phpString(ACS)},
  'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  'simplesaml.nameidattribute' => 'mail',
];
`,
  );
}

/** a minimal browser: follows redirects and keeps cookies */
class Browser {
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
  s.replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))).replace(/&#(\d+);/g, (_, d: string) => String.fromCharCode(Number(d))).replace(/&quot;/g, '"').replace(/&amp;/g, '&');
const hidden = (html: string, name: string) => {
  const m = new RegExp(`<input[^>]*name="${name}"[^>]*value="([^"]*)"`, 'i').exec(html) ?? new RegExp(`<input[^>]*value="([^"]*)"[^>]*name="${name}"`, 'i').exec(html);
  return m ? unescapeHtml(m[1]!) : undefined;
};

describe.skipIf(missing !== undefined)('SAML against Debian SimpleSAMLphp (php -S on loopback)', () => {
  let dir: string;
  let idp: ChildProcess;
  let idpBase: string;
  let store: Store;
  let sp: Server;
  let spUrl: string;
  const changes: string[][] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'convsync-ssp-'));
    idpBase = `http://127.0.0.1:${await freePort()}`;
    writeIdpConfig(join(dir, 'idp'), idpBase);
    idp = spawn('php', ['-S', idpBase.replace('http://', ''), '-t', WWW], { env: { ...process.env, SIMPLESAMLPHP_CONFIG_DIR: join(dir, 'idp') }, stdio: 'ignore' });
    let metadata = '';
    for (let i = 0; i < 100 && !metadata.includes('IDPSSODescriptor'); i++) {
      await sleep(100);
      metadata = await request(`${idpBase}/saml2/idp/metadata.php`)
        .then((r) => r.body.text())
        .catch(() => '');
    }
    expect(metadata).toContain('IDPSSODescriptor');
    writeFileSync(join(dir, 'idp-metadata.xml'), metadata);

    store = Store.open(join(dir, 'convsync.db'));
    const config = ConfigSchema.parse({
      store: { path: join(dir, 'convsync.db') },
      sources: [{ name: 'sso', type: 'saml', publicUrl: PUBLIC, idp: { metadataFile: join(dir, 'idp-metadata.xml') } }],
      backend: { type: 'wire', baseUrl: 'https://wire.test', email: 'bot@corp.test', password: 'unused' },
      identity: { from: 'email' },
      mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}' }],
    });
    const app = express();
    mountSaml(app, {
      sources: config.sources as SamlSourceConfig[],
      mappings: config.mappings,
      identityFrom: config.identity.from,
      store,
      logger: pino({ level: 'silent' }),
      maxBodyBytes: 1_048_576,
      onChange: (keys) => changes.push(keys),
    });
    const l = await listen(app, '127.0.0.1', 0);
    sp = l.server;
    spUrl = l.url;
  }, 30_000);

  afterAll(async () => {
    idp?.kill('SIGTERM');
    sp?.closeAllConnections();
    await new Promise((r) => sp?.close(r));
    store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('an SP-initiated login yields a signed response whose multi-valued groups are recorded', async () => {
    const browser = new Browser();
    const start = await browser.go(`${spUrl}/saml/login`, undefined, false);
    expect(start.status).toBe(302);
    const requestId = /ID="([^"]+)"/.exec(
      (await import('node:zlib')).inflateRawSync(Buffer.from(new URL(start.location!).searchParams.get('SAMLRequest')!, 'base64')).toString(),
    )![1]!;
    const form = await browser.go(start.location!);
    expect(form.body).toMatch(/name="password"/);
    const authState = hidden(form.body, 'AuthState') ?? new URL(form.url).searchParams.get('AuthState')!;
    const answer = await browser.go(new URL('loginuserpass.php', form.url).toString(), { username: 'alice', password: 'alice-password', AuthState: authState });
    const samlResponse = hidden(answer.body, 'SAMLResponse');
    expect(samlResponse, answer.body.slice(0, 500)).toBeDefined();
    const xml = Buffer.from(samlResponse!, 'base64').toString('utf8');
    expect(xml).toContain(`InResponseTo="${requestId}"`);
    expect((xml.match(/<ds:Signature/g) ?? []).length).toBeGreaterThanOrEqual(1);

    const acs = await request(`${spUrl}/saml/acs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ SAMLResponse: samlResponse! }).toString(),
    });
    const page = await acs.body.text();
    expect(acs.statusCode, page).toBe(200);
    expect(page).toContain('<li>Team eng</li>');
    expect(page).toContain('<li>Team ops</li>');
    expect(store.saml.login('sso', 'alice@corp.test')).toMatchObject({ groups: ['team-eng', 'team-ops'], groupsUnknown: false });
    expect(changes).toEqual([['sso:team-eng', 'sso:team-ops']]);

    // the same response again is a replay
    const again = await request(`${spUrl}/saml/acs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ SAMLResponse: samlResponse! }).toString(),
    });
    expect(again.statusCode).toBe(400);
    expect(await again.body.text()).toMatch(/already used|already answered/);
  }, 30_000);
});
