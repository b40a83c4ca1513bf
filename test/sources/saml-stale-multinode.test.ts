/**
 * SAML: the 'stale' refusal (an assertion issued before the recorded login) and an IdP of several
 * nodes whose clocks differ. Same set-up as saml-hunt.test.ts.
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
import { listen } from '../../src/server/http.js';
import { mountSaml } from '../../src/server/saml.js';
import { Store } from '../../src/store/store.js';
import { authnRequestOf, testIdp, type ResponseOptions } from '../helpers/saml-idp.js';

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

const reasonOf = (html: string) => /could not be accepted: ([^<]*)/.exec(html)?.[1] ?? '';

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
    // before the fix: 400 "a sign-in of yours that the identity provider answered later is already recorded"
    expect([res.status, reasonOf(res.html)]).toEqual([200, '']);
    expect(store.saml.login('sso', 'alice@corp.test')!.groups).toEqual(['eng']);
  });
});
