/**
 * SAML service provider: forged, stale, odd and hostile responses, and what keeps a login's memberships.
 * Same set-up as saml.test.ts: Auth0's samlp signs, convsync's ACS over HTTP, real SQLite.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigSchema, type SamlSourceConfig } from '../../src/config/schema.js';
import { pruneStore } from '../../src/reconcile/bookkeeping.js';
import type { RunDeps } from '../../src/reconcile/deps.js';
import { listen } from '../../src/server/http.js';
import { mountSaml } from '../../src/server/saml.js';
import { samlSource } from '../../src/sources/saml/index.js';
import { Store } from '../../src/store/store.js';
import { authnRequestOf, makeKeyPair, testIdp, type ResponseOptions } from '../helpers/saml-idp.js';

const PUBLIC = 'https://convsync.test';
const ENTITY = `${PUBLIC}/saml/metadata`;
const ACS = `${PUBLIC}/saml/acs`;
const idp = testIdp({ entityId: ENTITY, acsUrl: ACS });
const DS = 'xmlns:ds="http://www.w3.org/2000/09/xmldsig#"';

let dir: string;
let store: Store;
let server: Server | undefined;
let url: string;
let changes: string[][];
let logs: Record<string, unknown>[];

function configWith(source: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return ConfigSchema.parse({
    store: { path: join(dir, 'convsync.db') },
    sources: [{ name: 'sso', type: 'saml', publicUrl: PUBLIC, idp: { metadataFile: join(dir, 'idp.xml') }, clockSkewSeconds: 0, ...source }],
    backend: { type: 'wire', baseUrl: 'https://wire.test', email: 'bot@corp.test', password: 'unused' },
    identity: { from: 'email' },
    mappings: [{ match: { source: 'sso' }, name: '{displayName} (SSO)' }],
    ...extra,
  });
}

async function start(source: Record<string, unknown> = {}): Promise<SamlSourceConfig> {
  const config = configWith(source);
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
  });
  const l = await listen(app, '127.0.0.1', 0);
  server = l.server;
  url = l.url;
  return config.sources[0] as SamlSourceConfig;
}

async function loginRequest(): Promise<string> {
  const res = await request(`${url}/saml/login`);
  await res.body.dump();
  expect(res.statusCode).toBe(302);
  return authnRequestOf(String(res.headers.location)).id;
}

async function post(xml: string): Promise<{ status: number; html: string }> {
  const res = await request(`${url}/saml/acs`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ SAMLResponse: Buffer.from(xml).toString('base64') }).toString(),
  });
  return { status: res.statusCode, html: await res.body.text() };
}

async function signedResponse(o: Partial<ResponseOptions> = {}): Promise<string> {
  return idp.response({ nameId: 'alice@corp.test', groups: ['eng', 'ops'], inResponseTo: await loginRequest(), ...o });
}

const reasonOf = (html: string) => /could not be accepted: ([^<]*)/.exec(html)?.[1] ?? '';

/** the test IdP's metadata with its KeyDescriptor(s) replaced */
function metadataWith(keyDescriptors: string): string {
  const file = join(dir, 'idp-variant.xml');
  writeFileSync(file, idp.metadata.replace(/<md:KeyDescriptor[\s\S]*<\/md:KeyDescriptor>/, keyDescriptors));
  return file;
}
const x509 = (certBody: string) => `<ds:KeyInfo ${DS}><ds:X509Data><ds:X509Certificate>${certBody}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'convsync-saml-hunt-'));
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
  if (server) {
    server.closeAllConnections();
    await new Promise((r) => server!.close(r));
  }
  server = undefined;
  store.close();
});

describe('IdP metadata whose signing key is not an X509Certificate', () => {
  it('refuses a response that an attacker signed with their own key and certificate (samlify then trusts the KeyInfo)', async () => {
    // a signing KeyDescriptor that names its key (KeyName) instead of carrying the certificate
    // (IdP-initiated allowed, so that the forger needs no login request of ours)
    await start({
      allowIdpInitiated: true,
      idp: {
        metadataFile: metadataWith(`<md:KeyDescriptor use="signing"><ds:KeyInfo ${DS}><ds:KeyName>idp-2026</ds:KeyName></ds:KeyInfo></md:KeyDescriptor>`),
      },
    });
    const mallory = makeKeyPair('mallory');
    const forged = await idp.response({ keyPair: mallory, nameId: 'mallory@corp.test', groups: ['admins'] });
    expect(forged).toContain(mallory.certBody);
    const res = await post(forged);
    // before the fix: 200, and mallory@corp.test recorded in "admins"
    expect(res.status).not.toBe(200);
    expect(JSON.stringify(logs)).toContain('no signing certificate');
    expect(store.saml.login('sso', 'mallory@corp.test')).toBeUndefined();
    expect(changes).toEqual([]);
  });

  it('accepts the IdP key when its metadata lists two certificates in KeyDescriptors without `use` (a key rollover)', async () => {
    const next = makeKeyPair('convsync test idp, next key');
    await start({
      idp: {
        metadataFile: metadataWith(
          `<md:KeyDescriptor>${x509(idp.keys.certBody)}</md:KeyDescriptor><md:KeyDescriptor>${x509(next.certBody)}</md:KeyDescriptor>`,
        ),
      },
    });
    const res = await post(await signedResponse());
    // before the fix: 400 "the response could not be verified (Cannot read properties of null (reading 'map'))"
    expect(reasonOf(res.html)).toBe('');
    expect(res.status).toBe(200);
    expect(store.saml.login('sso', 'alice@corp.test')!.groups).toEqual(['eng', 'ops']);
  });
});

describe('retention.samlLogins shorter than membershipTtlHours', () => {
  it('does not forget a login whose memberships are still within their TTL', async () => {
    const config = configWith({ membershipTtlHours: 720 }, { retention: { samlLogins: '7d' } });
    const at = new Date(Date.now() - 8 * 86_400_000).toISOString();
    const ok = store.saml.recordLogin(
      'sso',
      { nameId: 'bob@corp.test', attributes: {}, groups: ['eng'], groupsUnknown: false, assertionId: '_a1', issueInstant: at, loggedInAt: at },
      { assertionExpiresAt: new Date(Date.parse(at) + 300_000).toISOString(), now: at },
    );
    expect(ok.ok).toBe(true);
    const source = samlSource.create(config.sources[0] as SamlSourceConfig, { store, logger: pino({ level: 'silent' }) });
    const membersOfEng = async () => (await source.fetch()).groups.find((g) => g.id === 'eng')!.members.map((m) => m.id);
    // logged in 8 days ago, memberships last 30 days
    expect(await membersOfEng()).toEqual(['bob@corp.test']);
    pruneStore({ config, store, logger: pino({ level: 'silent' }) } as unknown as RunDeps);
    // before the fix: [] (the run after this one removes Bob 22 days early)
    expect(await membersOfEng()).toEqual(['bob@corp.test']);
  });
});

describe('the text "EncryptedAssertion" inside a plain assertion', () => {
  it('is an attribute value like any other, not a reason for a 500', async () => {
    await start({ users: { displayNameAttribute: 'title' } });
    const res = await post(await signedResponse({ attributes: { title: 'Lead, EncryptedAssertion handling' } }));
    // before the fix: 500, log "ERR_UNDEFINED_ENCRYPTED_ASSERTION"
    expect(res.status).toBe(200);
    expect(store.saml.login('sso', 'alice@corp.test')!.attributes.title).toEqual(['Lead, EncryptedAssertion handling']);
  });
});

describe('a failed login reported by the IdP', () => {
  it("tells the IdP's status, not '0 assertions'", async () => {
    await start();
    const id = await loginRequest();
    const xml =
      `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_f1" Version="2.0" ` +
      `IssueInstant="${new Date().toISOString()}" Destination="${ACS}" InResponseTo="${id}"><saml:Issuer>${idp.entityId}</saml:Issuer>` +
      `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:RequestDenied"/></samlp:StatusCode></samlp:Status></samlp:Response>`;
    const res = await post(xml);
    expect(res.status).toBe(400);
    // before the fix: "the response carries 0 assertions; exactly one is accepted"
    expect(reasonOf(res.html)).toMatch(/identity provider reports a failed login .*RequestDenied/);
    expect(store.saml.counts('sso')).toEqual({ requests: 1, assertions: 0, logins: 0 });
  });
});

describe('deeply nested XML', () => {
  it('is refused with a 400 and a reason, not a 500 "Maximum call stack size exceeded"', async () => {
    await start();
    const depth = 40_000;
    const xml = (await signedResponse()).replace('<saml:AttributeStatement', `${'<x>'.repeat(depth)}${'</x>'.repeat(depth)}<saml:AttributeStatement`);
    const res = await post(xml);
    expect(res.status).toBe(400);
    expect(reasonOf(res.html)).toMatch(/nested/);
    expect(logs.some((l) => l.level === 50)).toBe(false);
    expect(store.saml.counts('sso').logins).toBe(0);
  });
});

describe('an older assertion posted after a newer login of the same user', () => {
  it('does not bring back the groups the newer login no longer named', async () => {
    await start();
    // two sign-ins under way (two tabs, or a response held back): the IdP answers the first while
    // Alice is still in team admins, the second after she left it
    const older = await idp.response({ nameId: 'alice@corp.test', groups: ['admins', 'eng'], inResponseTo: await loginRequest() });
    await new Promise((r) => setTimeout(r, 50));
    const newer = await idp.response({ nameId: 'alice@corp.test', groups: ['eng'], inResponseTo: await loginRequest() });
    expect((await post(newer)).status).toBe(200);
    expect(store.saml.login('sso', 'alice@corp.test')!.groups).toEqual(['eng']);
    const res = await post(older);
    expect([res.status, reasonOf(res.html)]).toEqual([400, expect.stringMatching(/already recorded/)]);
    // before the fix: 200, and ['admins', 'eng'], renewed for membershipTtlHours from now
    expect(store.saml.login('sso', 'alice@corp.test')!.groups).toEqual(['eng']);
  });
});

describe('identity.from naming a SAML attribute whose name has dots or colons (Entra, OIDs)', () => {
  const OID = 'http://schemas.microsoft.com/identity/claims/objectidentifier';
  it('reads the attribute by its whole name, as the README promises for users.attributes', async () => {
    const config = configWith({ users: { attributes: [OID] } }, { identity: { from: OID } });
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
    server = l.server;
    url = l.url;
    const res = await post(await signedResponse({ attributes: { [OID]: '5f1c9a2e-0000-4000-8000-000000000001' } }));
    expect(res.status).toBe(200);
    expect(store.saml.login('sso', 'alice@corp.test')!.attributes[OID]).toEqual(['5f1c9a2e-0000-4000-8000-000000000001']);
    // before the fix: "Your sign-in carries no http://schemas.microsoft.com/identity/claims/objectidentifier ... you cannot be added"
    expect(res.html).not.toContain('cannot be added');
    expect(res.html).toContain('<li>eng (SSO)</li>');
  });
});

/** a response signed by an IdP node whose clock is `offsetMs` off ours */
async function responseFromNode(offsetMs: number, o: Partial<ResponseOptions>): Promise<string> {
  const inResponseTo = await loginRequest();
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + offsetMs });
  try {
    return await idp.response({ nameId: 'alice@corp.test', inResponseTo, ...o });
  } finally {
    vi.useRealTimers();
  }
}

describe('an IdP of several nodes, each within clockSkewSeconds of our clock', () => {
  it('accepts the later of two logins though the node that answered it runs behind the first one', async () => {
    await start({ clockSkewSeconds: 60 });
    // node A runs 50 s ahead of us, node B 50 s behind: each within the 60 s accepted
    const first = await responseFromNode(50_000, { groups: ['admins', 'eng'] });
    expect((await post(first)).status).toBe(200);
    // 20 s later (here: at once) Alice signs in again, answered by node B, after she left admins
    const second = await responseFromNode(-50_000 + 20_000, { groups: ['eng'] });
    const res = await post(second);
    expect([res.status, reasonOf(res.html)]).toEqual([200, '']);
    expect(store.saml.login('sso', 'alice@corp.test')!.groups).toEqual(['eng']);
  });
});
