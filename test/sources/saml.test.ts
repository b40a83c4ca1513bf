import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SAML } from '@node-saml/node-saml';
import express from 'express';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigSchema, type SamlSourceConfig } from '../../src/config/schema.js';
import { listen } from '../../src/server/http.js';
import { mountSaml } from '../../src/server/saml.js';
import { samlSource } from '../../src/sources/saml/index.js';
import { Store } from '../../src/store/store.js';
import { authnRequestOf, makeKeyPair, testIdp, type ResponseOptions } from '../helpers/saml-idp.js';

const PUBLIC = 'https://convsync.test';
const ENTITY = `${PUBLIC}/saml/metadata`;
const ACS = `${PUBLIC}/saml/acs`;
const idp = testIdp({ entityId: ENTITY, acsUrl: ACS });

let dir: string;
let store: Store;
let server: Server | undefined;
let url: string;
let changes: string[][];
let logs: Record<string, unknown>[];

function configWith(source: Record<string, unknown> = {}, identityFrom = 'email') {
  return ConfigSchema.parse({
    store: { path: join(dir, 'convsync.db') },
    sources: [{ name: 'sso', type: 'saml', publicUrl: PUBLIC, idp: { metadataFile: join(dir, 'idp.xml') }, clockSkewSeconds: 0, ...source }],
    backend: { type: 'wire', baseUrl: 'https://wire.test', email: 'bot@corp.test', password: 'unused' },
    identity: { from: identityFrom },
    mappings: [
      { match: { source: 'sso', displayName: '^team-(.+)$' }, name: 'Team {1}' },
      { match: { source: 'sso' }, name: '{displayName} (SSO)' },
    ],
  });
}

async function start(source: Record<string, unknown> = {}, now?: () => number, identityFrom = 'email'): Promise<SamlSourceConfig> {
  const config = configWith(source, identityFrom);
  const app = express();
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  mountSaml(app, {
    sources: config.sources as SamlSourceConfig[],
    mappings: config.mappings,
    identityFrom: config.identity.from,
    store,
    logger,
    maxBodyBytes: 1_048_576,
    onChange: (keys) => changes.push(keys),
    ...(now ? { now } : {}),
  });
  const l = await listen(app, '127.0.0.1', 0);
  server = l.server;
  url = l.url;
  return config.sources[0] as SamlSourceConfig;
}

/** an SP-initiated login: the id of the AuthnRequest convsync redirected to the IdP with */
async function loginRequest(): Promise<string> {
  const res = await request(`${url}/saml/login`);
  await res.body.dump();
  expect(res.statusCode).toBe(302);
  const location = String(res.headers.location);
  expect(location.startsWith(idp.ssoUrl)).toBe(true);
  return authnRequestOf(location).id;
}

async function post(xml: string): Promise<{ status: number; html: string }> {
  const res = await request(`${url}/saml/acs`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ SAMLResponse: Buffer.from(xml).toString('base64'), RelayState: 'x' }).toString(),
  });
  return { status: res.statusCode, html: await res.body.text() };
}

/** a fresh login answered by the IdP */
async function signedResponse(o: Partial<ResponseOptions> = {}): Promise<string> {
  return idp.response({ nameId: 'alice@corp.test', groups: ['team-eng', 'team-ops'], inResponseTo: await loginRequest(), ...o });
}

/** node-saml 5, configured as strictly, as a second opinion on each response */
async function nodeSamlVerdict(xml: string): Promise<'accepts' | 'rejects'> {
  const saml = new SAML({
    idpCert: idp.keys.cert,
    issuer: ENTITY,
    audience: ENTITY,
    callbackUrl: ACS,
    idpIssuer: idp.entityId,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    acceptedClockSkewMs: 0,
  });
  try {
    await saml.validatePostResponseAsync({ SAMLResponse: Buffer.from(xml).toString('base64') });
    return 'accepts';
  } catch {
    return 'rejects';
  }
}

const ASSERTION = /<saml:Assertion[\s\S]*<\/saml:Assertion>/;
const assertionOf = (xml: string) => ASSERTION.exec(xml)![0];
const unsignedEvil = (xml: string) =>
  assertionOf(xml)
    .replace(/<Signature [\s\S]*<\/Signature>/, '')
    .replace(/ID="[^"]+"/, 'ID="_evil"')
    .replace('alice@corp.test', 'mallory@corp.test')
    .replace('>team-eng<', '>team-admins<');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'convsync-saml-'));
  writeFileSync(join(dir, 'idp.xml'), idp.metadata);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  rmSync(join(dir, 'convsync.db'), { force: true });
  store = Store.open(join(dir, 'convsync.db'));
  changes = [];
  logs = [];
});
afterEach(async () => {
  vi.useRealTimers();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
  store.close();
});

describe('SAML service provider (samlify, Auth0 samlp as the IdP, over HTTP)', () => {
  it('serves its metadata with the entity id and the ACS URL', async () => {
    await start();
    const res = await request(`${url}/saml/metadata`);
    expect(res.headers['content-type']).toContain('application/samlmetadata+xml');
    const xml = await res.body.text();
    expect(xml).toContain(`entityID="${ENTITY}"`);
    expect(xml).toContain(`Location="${ACS}"`);
  });

  it('records an SP-initiated login with its groups and shows the conversations', async () => {
    await start();
    const xml = await signedResponse();
    expect(await nodeSamlVerdict(xml)).toBe('accepts');
    const res = await post(xml);
    expect(res.status).toBe(200);
    expect(res.html).toContain('alice@corp.test');
    expect(res.html).toContain('<li>Team eng</li>');
    expect(res.html).toContain('<li>Team ops</li>');
    const login = store.saml.login('sso', 'alice@corp.test')!;
    expect(login.groups).toEqual(['team-eng', 'team-ops']);
    expect(login.groupsUnknown).toBe(false);
    expect(login.assertionId).toMatch(/^_/);
    expect(Date.parse(login.issueInstant)).toBeGreaterThan(Date.now() - 60_000);
    expect(changes).toEqual([['sso:team-eng', 'sso:team-ops']]);
    expect(store.saml.counts('sso')).toEqual({ requests: 0, assertions: 1, logins: 1 });
  });

  it('answers 5xx pages, and keeps serving, when the store fails under a login or a login request', async () => {
    await start();
    const xml = await signedResponse();
    store.close();
    const res = await post(xml);
    expect(res.status).toBe(500);
    expect(res.html).toContain('Something went wrong on our side');
    expect(res.html).not.toMatch(/database|sqlite/i);
    const login = await request(`${url}/saml/login`);
    expect(login.statusCode).toBeGreaterThanOrEqual(500);
    await login.body.text();
    expect((await request(`${url}/saml/metadata`)).statusCode).toBe(200);
    store = Store.open(join(dir, 'convsync.db'));
  });

  it('tells a user whose sign-in lacks the identity attribute that they cannot be added yet', async () => {
    await start({}, undefined, 'externalId');
    const res = await post(await signedResponse());
    expect(res.status).toBe(200);
    expect(res.html).toContain('carries no externalId');
    expect(res.html).not.toContain('<li>');
    expect(store.saml.login('sso', 'alice@corp.test')).toBeDefined();
  });

  it('takes a one-valued group attribute as a set of one, and a response signed as a whole', async () => {
    await start();
    const res = await post(await signedResponse({ groups: 'team-eng', signResponse: true, signAssertion: false }));
    expect(res.status).toBe(200);
    expect(store.saml.login('sso', 'alice@corp.test')!.groups).toEqual(['team-eng']);
  });

  it('turns values into group keys with groups.match and groups.key, and records the chosen attributes', async () => {
    await start({
      groups: { attribute: 'memberOf', match: '^CN=([^,]+),OU=Teams,', key: 'team-{1}' },
      users: { emailAttribute: 'mail', displayNameAttribute: 'name', attributes: ['employeeNumber'] },
    });
    const res = await post(
      await signedResponse({
        groups: undefined,
        attributes: {
          memberOf: ['CN=eng,OU=Teams,DC=corp,DC=test', 'CN=Domain Users,CN=Users,DC=corp,DC=test', 'CN=ops,OU=Teams,DC=corp,DC=test'],
          mail: 'alice@mail.corp.test',
          name: 'Alice',
          employeeNumber: '1001',
          secret: 'not recorded',
        },
      }),
    );
    expect(res.status).toBe(200);
    const login = store.saml.login('sso', 'alice@corp.test')!;
    expect(login.groups).toEqual(['team-eng', 'team-ops']);
    expect(login.attributes).toEqual({ mail: ['alice@mail.corp.test'], name: ['Alice'], employeeNumber: ['1001'] });
    const { groups } = await samlSource.create(configWith().sources[0] as SamlSourceConfig, { store, logger: pino({ level: 'silent' }) }).fetch();
    const alice = groups.find((g) => g.id === 'team-eng')!.members[0]!;
    expect(alice.emails).toEqual(['alice@corp.test']);
  });

  it("keeps a user's groups as unknown, not empty, on Entra's overage claim", async () => {
    const config = await start();
    await post(await signedResponse());
    const overage = await signedResponse({
      groups: undefined,
      attributes: { 'http://schemas.microsoft.com/claims/groups.link': 'https://graph.windows.net/tenant/users/alice/getMemberObjects' },
    });
    const res = await post(overage);
    expect(res.status).toBe(200);
    expect(res.html).toContain('did not list your groups');
    const login = store.saml.login('sso', 'alice@corp.test')!;
    expect(login).toMatchObject({ groupsUnknown: true, groups: ['team-eng', 'team-ops'] });
    const result = await samlSource.create(config, { store, logger: pino({ level: 'silent' }) }).fetch();
    for (const g of result.groups) {
      expect(g.complete).toBe(false);
      expect(g.members.map((m) => m.id)).toEqual(['alice@corp.test']);
      expect(g.unknownReason).toContain('overage');
    }
  });

  it('an overage login does not renew the groups it carries over: they expire with the login that named them', async () => {
    const config = await start({ membershipTtlHours: 1 });
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const login = (at: number, id: string, groups: string[] | undefined) =>
      store.saml.recordLogin(
        'sso',
        {
          nameId: 'bob@corp.test',
          attributes: {},
          groups: groups ?? [],
          groupsUnknown: groups === undefined,
          assertionId: id,
          issueInstant: new Date(at).toISOString(),
          loggedInAt: new Date(at).toISOString(),
        },
        { assertionExpiresAt: new Date(at + 300_000).toISOString(), now: new Date(at).toISOString() },
      );
    expect(login(t0, 'a1', ['team-eng']).ok).toBe(true);
    // signing in again every half hour with only the overage link
    for (let i = 1; i <= 3; i++) expect(login(t0 + i * 1_800_000, `a${i + 1}`, undefined).ok).toBe(true);
    expect(store.saml.login('sso', 'bob@corp.test')).toMatchObject({ groups: ['team-eng'], groupsUnknown: true, groupsSeenAt: new Date(t0).toISOString() });
    let now = t0 + 1_800_000;
    const source = samlSource.create(config, { store, logger: pino({ level: 'silent' }), now: () => now });
    const within = (await source.fetch()).groups.find((g) => g.id === 'team-eng')!;
    expect([within.members.length, within.complete]).toEqual([1, false]);
    now = t0 + 3_600_001;
    const after = await source.fetch();
    const eng = after.groups.find((g) => g.id === 'team-eng')!;
    // expired with the login that named it: Bob is out, and the group is known again
    expect([eng.members.length, eng.complete]).toEqual([0, true]);
    expect(after.warnings.join()).toMatch(/1 user\(s\) had no login naming their groups within 1 h/);
    // a login that names the groups again renews them (after the last overage login: an older assertion is refused)
    expect(login(t0 + 5_400_001, 'a9', ['team-eng']).ok).toBe(true);
    expect((await source.fetch()).groups.find((g) => g.id === 'team-eng')!.members).toHaveLength(1);
  });

  it('lets memberships expire after membershipTtlHours; the group stays listed, empty', async () => {
    const config = await start({ membershipTtlHours: 1 });
    await post(await signedResponse());
    let now = Date.now();
    const source = samlSource.create(config, { store, logger: pino({ level: 'silent' }), now: () => now });
    const fresh = await source.fetch();
    expect(fresh.groups.map((g) => [g.key, g.members.length, g.complete])).toEqual([
      ['sso:team-eng', 1, true],
      ['sso:team-ops', 1, true],
    ]);
    expect(fresh.listingComplete).toBe(true);
    now += 3_600_001;
    const later = await source.fetch();
    expect(later.groups.map((g) => [g.key, g.members.length, g.complete])).toEqual([
      ['sso:team-eng', 0, true],
      ['sso:team-ops', 0, true],
    ]);
    expect(later.warnings.join()).toContain('expired');
  });

  it('changes the groups a user left as well as those joined', async () => {
    await start();
    await post(await signedResponse());
    changes = [];
    await post(await signedResponse({ groups: ['team-eng', 'team-qa'] }));
    expect(changes).toEqual([['sso:team-eng', 'sso:team-qa', 'sso:team-ops']]);
    expect(store.saml.groups('sso')).toEqual(['team-eng', 'team-ops', 'team-qa']);
  });

  describe('one person under another NameID: the later login replaces the earlier', () => {
    const TRANSIENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
    const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
    const membersOf = async (config: SamlSourceConfig) => {
      const { groups } = await samlSource.create(config, { store, logger: pino({ level: 'silent' }) }).fetch();
      return Object.fromEntries(groups.map((g) => [g.id, g.members.map((m) => m.id)]));
    };

    it('an address in another case', async () => {
      const config = await start();
      await post(await signedResponse({ nameId: 'Alice@Corp.test' }));
      changes = [];
      expect((await post(await signedResponse({ nameId: 'alice@corp.test', groups: ['team-eng'] }))).status).toBe(200);
      // team-ops, which only the earlier login named, is run too
      expect(changes).toEqual([['sso:team-eng', 'sso:team-ops']]);
      expect(await membersOf(config)).toEqual({ 'team-eng': ['alice@corp.test'], 'team-ops': [] });
      expect(store.saml.counts('sso').logins).toBe(1);
    });

    it('a renamed address, with users.externalIdAttribute', async () => {
      const config = await start({ users: { externalIdAttribute: 'oid' } });
      await post(await signedResponse({ attributes: { oid: 'u-1' } }));
      await post(await signedResponse({ nameId: 'alice.smith@corp.test', groups: ['team-eng'], attributes: { oid: 'u-1' } }));
      // another person with the same groups stays
      await post(await signedResponse({ nameId: 'bob@corp.test', groups: ['team-ops'], attributes: { oid: 'u-2' } }));
      expect(await membersOf(config)).toEqual({ 'team-eng': ['alice.smith@corp.test'], 'team-ops': ['bob@corp.test'] });
    });

    it('a transient NameID, by the e-mail attribute; persistent NameIDs are people of their own, whatever their e-mail', async () => {
      const config = await start({ users: { emailAttribute: 'mail' } });
      await post(await signedResponse({ nameId: 'x-1', nameIdFormat: TRANSIENT, attributes: { mail: 'alice@corp.test' } }));
      await post(await signedResponse({ nameId: 'x-2', nameIdFormat: TRANSIENT, groups: ['team-eng'], attributes: { mail: 'ALICE@corp.test' } }));
      expect(await membersOf(config)).toEqual({ 'team-eng': ['x-2'], 'team-ops': [] });
      await post(await signedResponse({ nameId: 'p-1', nameIdFormat: PERSISTENT, groups: ['team-ops'], attributes: { mail: 'shared@corp.test' } }));
      await post(await signedResponse({ nameId: 'p-2', nameIdFormat: PERSISTENT, groups: ['team-ops'], attributes: { mail: 'shared@corp.test' } }));
      expect((await membersOf(config))['team-ops']).toEqual(['p-1', 'p-2']);
    });

    it('an overage login under another NameID carries the earlier groups over as unknown', async () => {
      const config = await start();
      await post(await signedResponse({ nameId: 'Alice@corp.test' }));
      const link = { 'http://schemas.microsoft.com/claims/groups.link': 'https://graph.windows.net/tenant/users/alice/getMemberObjects' };
      await post(await signedResponse({ nameId: 'alice@corp.test', groups: undefined, attributes: link }));
      const { groups } = await samlSource.create(config, { store, logger: pino({ level: 'silent' }) }).fetch();
      expect(groups.map((g) => [g.id, g.members.map((m) => m.id), g.complete])).toEqual([
        ['team-eng', ['alice@corp.test'], false],
        ['team-ops', ['alice@corp.test'], false],
      ]);
    });

    it('a login recorded before subjects were kept is a person of its own until its NameID signs in again', async () => {
      const config = await start();
      const at = new Date(Date.now() - 600_000).toISOString();
      const old = {
        nameId: 'Alice@corp.test',
        attributes: {},
        groups: ['team-eng', 'team-ops'],
        groupsUnknown: false,
        assertionId: 'old',
        issueInstant: at,
        loggedInAt: at,
      };
      expect(store.saml.recordLogin('sso', old, { assertionExpiresAt: new Date(Date.now() + 600_000).toISOString(), now: at }).ok).toBe(true);
      // an overage login, then one naming groups, under another case: neither takes Alice out of what the old login named
      const link = { 'http://schemas.microsoft.com/claims/groups.link': 'https://graph.windows.net/tenant/users/alice/getMemberObjects' };
      await post(await signedResponse({ nameId: 'alice@corp.test', groups: undefined, attributes: link }));
      expect(await membersOf(config)).toEqual({ 'team-eng': ['Alice@corp.test'], 'team-ops': ['Alice@corp.test'] });
      await post(await signedResponse({ nameId: 'alice@corp.test', groups: ['team-eng'] }));
      expect(await membersOf(config)).toEqual({ 'team-eng': ['Alice@corp.test', 'alice@corp.test'], 'team-ops': ['Alice@corp.test'] });
      // the old NameID signs in: its login gets the subject, and replaces the other
      await post(await signedResponse({ nameId: 'Alice@corp.test', groups: ['team-eng'] }));
      expect(await membersOf(config)).toEqual({ 'team-eng': ['Alice@corp.test'], 'team-ops': [] });
      expect(store.saml.counts('sso').logins).toBe(1);
    });

    it('users.externalIdAttribute set later: the logins recorded before stay until they expire', async () => {
      await start({ users: { attributes: ['oid'] } });
      await post(await signedResponse({ groups: ['team-eng', 'team-ops'], attributes: { oid: 'u-1' } }));
      server?.closeAllConnections();
      await new Promise((r) => server?.close(r));
      const config = await start({ users: { externalIdAttribute: 'oid' } });
      const link = { 'http://schemas.microsoft.com/claims/groups.link': 'https://graph.windows.net/tenant/users/alice/getMemberObjects' };
      expect((await post(await signedResponse({ nameId: 'alice.smith@corp.test', groups: undefined, attributes: { oid: 'u-1', ...link } }))).status).toBe(200);
      expect(await membersOf(config)).toEqual({ 'team-eng': ['alice@corp.test'], 'team-ops': ['alice@corp.test'] });
    });

    it('two accounts sharing a mail attribute stay two people', async () => {
      const config = await start({ users: { emailAttribute: 'mail' } });
      await post(await signedResponse({ nameId: 'jsmith@corp.test', groups: ['team-eng'], attributes: { mail: 'jsmith@corp.test' } }));
      await post(await signedResponse({ nameId: 'jsmith-admin@corp.test', groups: ['team-ops'], attributes: { mail: 'jsmith@corp.test' } }));
      expect(await membersOf(config)).toEqual({ 'team-eng': ['jsmith@corp.test'], 'team-ops': ['jsmith-admin@corp.test'] });
    });

    it('a refused login under another NameID of the same person deletes nothing', async () => {
      const config = await start();
      const first = await signedResponse({ nameId: 'Alice@corp.test', groups: ['team-ops'] });
      expect((await post(first)).status).toBe(200);
      await post(await signedResponse({ nameId: 'alice@corp.test', groups: ['team-eng'] }));
      const before = store.saml.logins('sso');
      changes = [];
      // a replay, and an IdP-initiated response (not allowed here)
      expect((await post(first)).status).toBe(400);
      expect((await post(await idp.response({ nameId: 'ALICE@corp.test', groups: [] }))).status).toBe(400);
      expect([store.saml.logins('sso'), changes]).toEqual([before, []]);
      expect(await membersOf(config)).toEqual({ 'team-eng': ['alice@corp.test'], 'team-ops': [] });
    });
  });

  it('accepts IdP-initiated responses only when allowIdpInitiated is set', async () => {
    await start();
    const unsolicited = await idp.response({ nameId: 'alice@corp.test', groups: ['team-eng'] });
    const refused = await post(unsolicited);
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('IdP-initiated logins are not allowed');
    expect(store.saml.counts('sso')).toEqual({ requests: 0, assertions: 0, logins: 0 });
    server!.closeAllConnections();
    await new Promise((r) => server!.close(r));
    await start({ allowIdpInitiated: true });
    expect((await post(await idp.response({ nameId: 'alice@corp.test', groups: ['team-eng'] }))).status).toBe(200);
  });

  it('keeps a request id only for requestTtlSeconds', async () => {
    let now = Date.now();
    await start({ requestTtlSeconds: 60 }, () => now);
    const xml = await signedResponse();
    now += 61_000;
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(now - 60_000);
    const res = await post(xml);
    expect(res.status).toBe(400);
    expect(res.html).toMatch(/unknown, already answered or expired|longer ago than accepted/);
    expect(store.saml.counts('sso').logins).toBe(0);
  });

  it('tolerates clock skew up to clockSkewSeconds, and no more', async () => {
    await start({ clockSkewSeconds: 60 });
    const xml = await signedResponse();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - 90_000);
    expect((await post(xml)).html).toMatch(/validity period|in the future/);
    vi.setSystemTime(Date.now() + 50_000);
    expect((await post(xml)).status).toBe(200);
  });

  it('decrypts encrypted assertions when the SP has an encryption key, and then refuses plain ones', async () => {
    const enc = makeKeyPair('convsync sp encryption');
    writeFileSync(join(dir, 'enc.key'), enc.key);
    writeFileSync(join(dir, 'enc.crt'), enc.cert);
    await start({ sp: { encryptionKeyFile: join(dir, 'enc.key'), encryptionCertFile: join(dir, 'enc.crt') } });
    const metadata = await (await request(`${url}/saml/metadata`)).body.text();
    expect(metadata).toContain('use="encryption"');
    const encrypted = await signedResponse({ encryptFor: enc.cert });
    expect(encrypted).toContain('EncryptedAssertion');
    expect(encrypted).not.toContain('alice@corp.test');
    const res = await post(encrypted);
    expect(res.status).toBe(200);
    expect(store.saml.login('sso', 'alice@corp.test')!.groups).toEqual(['team-eng', 'team-ops']);
    const plain = await post(await signedResponse());
    expect(plain.status).toBe(400);
  });

  it('reads the IdP metadata from a URL, and again after a failed read', async () => {
    let up = false;
    const meta = await listen(
      express().get('/metadata', (_req, res) => (up ? res.type('application/xml').send(idp.metadata) : res.status(503).send('starting'))),
      '127.0.0.1',
      0,
    );
    try {
      // a key in the query (as some IdPs want) stays out of the log
      await start({ idp: { metadataUrl: `${meta.url}/metadata?access_token=md-S3cret` } });
      const down = await request(`${url}/saml/login`);
      expect(down.statusCode).toBe(503);
      expect(await down.body.text()).toContain('cannot be reached');
      expect(logs.some((l) => String(l.err) === `the IdP metadata at ${meta.url}/metadata?… answered HTTP 503`)).toBe(true);
      expect(JSON.stringify(logs)).not.toContain('md-S3cret');
      up = true;
      expect((await post(await signedResponse())).status).toBe(200);
    } finally {
      meta.server.closeAllConnections();
      meta.server.close();
    }
  });

  it('signs its login requests with the SP signing key from files, and publishes the certificate', async () => {
    const signing = makeKeyPair('convsync sp signing');
    writeFileSync(join(dir, 'sign.key'), signing.key);
    writeFileSync(join(dir, 'sign.crt'), signing.cert);
    writeFileSync(join(dir, 'idp-wants-signed.xml'), idp.metadata.replace('WantAuthnRequestsSigned="false"', 'WantAuthnRequestsSigned="true"'));
    await start({
      idp: { metadataFile: join(dir, 'idp-wants-signed.xml') },
      sp: { signingKeyFile: join(dir, 'sign.key'), signingCertFile: join(dir, 'sign.crt') },
    });
    const metadata = await (await request(`${url}/saml/metadata`)).body.text();
    expect(metadata).toContain('AuthnRequestsSigned="true"');
    expect(metadata.replace(/\s/g, '')).toContain(signing.certBody);
    const res = await request(`${url}/saml/login`);
    await res.body.dump();
    const location = new URL(String(res.headers.location));
    expect(location.searchParams.get('SigAlg')).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    expect(location.searchParams.get('Signature')).toBeTruthy();
    // an IdP whose metadata does not ask for signed requests gets them unsigned (samlify insists)
    server!.closeAllConnections();
    await new Promise((r) => server!.close(r));
    await start({ sp: { signingKeyFile: join(dir, 'sign.key'), signingCertFile: join(dir, 'sign.crt') } });
    const plain = await request(`${url}/saml/login`);
    await plain.body.dump();
    expect(new URL(String(plain.headers.location)).searchParams.get('Signature')).toBeNull();
  });

  it('forgets expired login requests as new ones come, so that unanswered logins do not pile up', async () => {
    let now = Date.now();
    await start({ requestTtlSeconds: 60 }, () => now);
    await loginRequest();
    await loginRequest();
    expect(store.saml.counts('sso').requests).toBe(2);
    now += 61_000;
    await loginRequest();
    expect(store.saml.counts('sso').requests).toBe(1);
  });

  it('answers a page, never a stack trace, to a body that is not SAML at all', async () => {
    await start();
    for (const body of ['SAMLResponse=%%%', 'SAMLResponse=', 'nothing=1', `SAMLResponse=${Buffer.from('<a><b></a>').toString('base64')}`]) {
      const res = await request(`${url}/saml/acs`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      const html = await res.body.text();
      expect(res.statusCode).toBe(400);
      expect(html).toContain('Sign-in rejected');
      expect(html).not.toMatch(/at .*\.js:\d+/);
    }
    expect(store.saml.counts('sso')).toEqual({ requests: 0, assertions: 0, logins: 0 });
  });
});

interface Attack {
  name: string;
  /** builds the response to post (may post a valid one first) */
  build: () => Promise<string>;
  /** part of the reason convsync gives */
  reason: RegExp;
  /** what node-saml 5 says of the same response, as a second validator */
  nodeSaml: 'accepts' | 'rejects';
  /** the system clock while it is posted, relative to now */
  clockOffsetMs?: number;
}

const attacks: Attack[] = [
  { name: 'unsigned response', build: () => signedResponse({ signAssertion: false }), reason: /no valid signature/, nodeSaml: 'rejects' },
  {
    name: 'signed by a key not in the metadata',
    build: () => signedResponse({ keyPair: makeKeyPair('mallory') }),
    reason: /certificate the IdP metadata does not list/,
    nodeSaml: 'rejects',
  },
  {
    name: 'signature over a different element (the Response signature moved into the Assertion)',
    build: async () => {
      const xml = await signedResponse({ signResponse: true, signAssertion: false });
      const sig = /<Signature [\s\S]*?<\/Signature>/.exec(xml)![0];
      return xml.replace(sig, '').replace(/(<saml:Assertion[^>]*><saml:Issuer>[^<]*<\/saml:Issuer>)/, `$1${sig}`);
    },
    reason: /does not cover the Assertion/,
    nodeSaml: 'rejects',
  },
  {
    name: 'XSW: evil assertion before the signed one',
    build: async () => {
      const xml = await signedResponse();
      return xml.replace(ASSERTION, (a) => unsignedEvil(xml) + a);
    },
    reason: /2 assertions/,
    nodeSaml: 'rejects',
  },
  {
    name: 'XSW: evil assertion after the signed one',
    build: async () => {
      const xml = await signedResponse();
      return xml.replace(ASSERTION, (a) => a + unsignedEvil(xml));
    },
    reason: /2 assertions/,
    nodeSaml: 'rejects',
  },
  {
    name: 'XSW: signed assertion hidden inside SubjectConfirmationData',
    build: async () => {
      const xml = await signedResponse();
      const signed = assertionOf(xml);
      const evil = unsignedEvil(xml).replace(/(<saml:SubjectConfirmationData[^>]*)\/>/, `$1>${signed}</saml:SubjectConfirmationData>`);
      return xml.replace(ASSERTION, () => evil);
    },
    reason: /2 assertions/,
    nodeSaml: 'rejects',
  },
  {
    name: 'comment injected in NameID (signature still valid)',
    build: async () => (await signedResponse()).replace('>alice@corp.test<', '>alice@corp<!--x-->.test<'),
    reason: /comment injection/,
    nodeSaml: 'accepts',
  },
  {
    name: 'attribute edited after signing',
    build: async () => (await signedResponse()).replace('>team-eng<', '>team-admins<'),
    reason: /no valid signature/,
    nodeSaml: 'rejects',
  },
  {
    name: 'expired',
    build: () => signedResponse({ lifetimeInSeconds: 60 }),
    clockOffsetMs: 120_000,
    reason: /validity period|expired|longer ago/,
    nodeSaml: 'rejects',
  },
  {
    name: 'not yet valid',
    build: () => signedResponse(),
    clockOffsetMs: -120_000,
    reason: /validity period|in the future|not valid before/,
    nodeSaml: 'rejects',
  },
  {
    name: 'wrong audience',
    build: () => signedResponse({ audience: 'https://other-sp.test/metadata' }),
    reason: /meant for https:\/\/other-sp.test/,
    nodeSaml: 'rejects',
  },
  {
    name: 'wrong destination',
    build: () => signedResponse({ destination: 'https://other-sp.test/acs' }),
    reason: /addressed to https:\/\/other-sp.test\/acs/,
    nodeSaml: 'accepts',
  },
  {
    name: 'wrong recipient',
    build: () => signedResponse({ recipient: 'https://other-sp.test/acs' }),
    reason: /Recipient is https:\/\/other-sp.test\/acs/,
    nodeSaml: 'accepts',
  },
  {
    name: 'replayed',
    build: async () => {
      const xml = await idp.response({ nameId: 'alice@corp.test', groups: ['team-eng'], inResponseTo: await loginRequest() });
      expect((await post(xml)).status).toBe(200);
      // a second request outstanding, so that only the replay check can refuse it
      await loginRequest();
      return xml;
    },
    reason: /already used|already answered/,
    nodeSaml: 'accepts',
  },
  {
    name: 'unknown InResponseTo',
    build: () => idp.response({ nameId: 'alice@corp.test', groups: ['team-eng'], inResponseTo: '_never-asked' }),
    reason: /unknown, already answered or expired/,
    nodeSaml: 'accepts',
  },
  {
    name: 'two assertions (the signed one twice)',
    build: async () => {
      const xml = await signedResponse();
      return xml.replace(ASSERTION, (a) => a + a);
    },
    reason: /2 assertions/,
    nodeSaml: 'rejects',
  },
  {
    name: 'weak algorithm (RSA-SHA1)',
    build: () => signedResponse({ signatureAlgorithm: 'rsa-sha1', digestAlgorithm: 'sha1' }),
    reason: /algorithm .* is not accepted/,
    nodeSaml: 'accepts',
  },
];

describe('SAML attack corpus: each rejected with a reason, nothing recorded', () => {
  it.each(attacks)('$name', async (attack) => {
    await start();
    const xml = await attack.build();
    const before = { counts: store.saml.counts('sso'), login: store.saml.login('sso', 'alice@corp.test'), changes: changes.length };
    if (attack.clockOffsetMs) {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + attack.clockOffsetMs);
    }
    expect(await nodeSamlVerdict(xml)).toBe(attack.nodeSaml);
    const res = await post(xml);
    expect(res.status).toBe(400);
    expect(res.html).toContain('Sign-in rejected');
    const said = /could not be accepted: ([^<]*)/.exec(res.html)?.[1] ?? '';
    expect(said).toMatch(attack.reason);
    expect(store.saml.login('sso', 'alice@corp.test')).toEqual(before.login);
    expect(store.saml.login('sso', 'mallory@corp.test')).toBeUndefined();
    const after = store.saml.counts('sso');
    expect(after.logins).toBe(before.counts.logins);
    expect(after.assertions).toBe(before.counts.assertions);
    expect(changes.length).toBe(before.changes);
    expect(logs.some((l) => l.msg === 'SAML response rejected' && typeof l.reason === 'string' && attack.reason.test(l.reason))).toBe(true);
  });
});
