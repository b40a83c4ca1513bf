import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema, type SamlSourceConfig } from '../../src/config/schema.js';
import { listen } from '../../src/server/http.js';
import { mountSaml } from '../../src/server/saml.js';
import { Store } from '../../src/store/store.js';
import { skipWithout } from '../helpers/prerequisite.js';
import { INSTALL_SIMPLESAMLPHP, signIn, simpleSamlPhpMissing, startSimpleSamlPhp, type SimpleSamlPhp } from '../helpers/simplesamlphp.js';

/**
 * Debian's SimpleSAMLphp (a real, independent IdP) under php's built-in server on loopback:
 * browser-less SP-initiated logins, their signed answers posted to convsync's ACS.
 */
const skip = skipWithout('SimpleSAMLphp', simpleSamlPhpMissing(), INSTALL_SIMPLESAMLPHP);

const PUBLIC = 'https://convsync.test';
const SP = { entityId: `${PUBLIC}/saml/metadata`, acs: `${PUBLIC}/saml/acs` };
const USERS = {
  alice: { password: 'alice-password', mail: 'alice@corp.test', groups: ['team-eng', 'team-ops'] },
  bob: { password: 'bob-password', mail: 'bob@corp.test', groups: ['team-eng'] },
  carol: { password: 'carol-password', mail: 'carol@corp.test', groups: ['team-ops'] },
};

describe.skipIf(skip)('SAML against Debian SimpleSAMLphp (php -S on loopback)', () => {
  let dir: string;
  let idp: SimpleSamlPhp;
  let store: Store;
  let sp: Server;
  let spUrl: string;
  const changes: string[][] = [];

  const postAcs = async (samlResponse: string) => {
    const res = await request(`${spUrl}/saml/acs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ SAMLResponse: samlResponse }).toString(),
    });
    return { status: res.statusCode, page: await res.body.text() };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'convsync-ssp-'));
    idp = await startSimpleSamlPhp(join(dir, 'idp'), SP, USERS);
    writeFileSync(join(dir, 'idp-metadata.xml'), idp.metadata);

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
    idp?.stop();
    sp?.closeAllConnections();
    await new Promise((r) => sp?.close(r));
    store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('an SP-initiated login yields a signed response whose multi-valued groups are recorded; the same response again is a replay', async () => {
    const { requestId, samlResponse } = await signIn(spUrl, 'alice', USERS.alice.password);
    const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
    expect(xml).toContain(`InResponseTo="${requestId}"`);
    expect((xml.match(/<ds:Signature/g) ?? []).length).toBeGreaterThanOrEqual(1);

    const acs = await postAcs(samlResponse);
    expect(acs.status, acs.page).toBe(200);
    expect(acs.page).toContain('<li>Team eng</li>');
    expect(acs.page).toContain('<li>Team ops</li>');
    expect(store.saml.login('sso', 'alice@corp.test')).toMatchObject({ groups: ['team-eng', 'team-ops'], groupsUnknown: false });
    expect(changes).toEqual([['sso:team-eng', 'sso:team-ops']]);

    const again = await postAcs(samlResponse);
    expect(again.status).toBe(400);
    expect(again.page).toMatch(/already used|already answered/);
    expect(changes).toHaveLength(1);
  }, 30_000);

  it('a single group arrives as one attribute value and is recorded as a list of one', async () => {
    const { samlResponse } = await signIn(spUrl, 'bob', USERS.bob.password);
    expect(
      (
        Buffer.from(samlResponse, 'base64')
          .toString('utf8')
          .match(/<saml:AttributeValue[^>]*>team-eng</g) ?? []
      ).length,
    ).toBe(1);
    const acs = await postAcs(samlResponse);
    expect(acs.status, acs.page).toBe(200);
    expect(acs.page).toContain('<li>Team eng</li>');
    expect(store.saml.login('sso', 'bob@corp.test')).toMatchObject({ groups: ['team-eng'], groupsUnknown: false });
  }, 30_000);

  it('a group changed after the IdP signed the response is refused, and nothing of it is recorded', async () => {
    const { samlResponse } = await signIn(spUrl, 'carol', USERS.carol.password);
    const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
    expect(xml).toContain('>team-ops<');
    const forged = Buffer.from(xml.replace('>team-ops<', '>team-admins<')).toString('base64');
    const before = changes.length;
    const acs = await postAcs(forged);
    expect(acs.status, acs.page).toBe(400);
    expect(acs.page).toMatch(/Sign-in rejected[\s\S]*no valid signature/);
    expect(store.saml.login('sso', 'carol@corp.test')).toBeUndefined();
    expect(changes).toHaveLength(before);
  }, 30_000);
});
