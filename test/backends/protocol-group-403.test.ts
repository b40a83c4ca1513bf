import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { protocolBackend } from '../../src/backends/protocol/index.js';
import type { ProtocolBackendConfig } from '../../src/config/schema.js';
import type { PlanOp } from '../../src/plan/types.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { ProtocolSandbox } from '../../src/sandbox/protocol/server.js';
import { Store } from '../../src/store/store.js';
import { planOf } from '../helpers/plan.js';

/**
 * Protocol (reference §4.2, §5.2): a bad token is a 401; a 4xx on one request is that request's
 * client error. A 403 the API answers (its own `{type, message}` error object) for ONE group —
 * that group locked, or the token not allowed there — is no credential failure: per DESIGN §4 it
 * is a permanent error of that op, the run goes on. The adapter makes every 403 an AuthError,
 * which stops the whole run (src/backends/protocol/index.ts:249).
 */
const logger = pino({ level: 'silent' });
let sandbox: ProtocolSandbox | undefined;
let proxy: Server | undefined;
afterEach(async () => {
  proxy?.closeAllConnections();
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
  proxy = undefined;
  await sandbox?.stop();
  sandbox = undefined;
});

/** in front of the sandbox: requests matching `forbidden` get the API's own 403 error object, the rest pass */
async function forbidding(target: string, forbidden: (method: string, path: string) => boolean): Promise<string> {
  proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const path = req.url ?? '/';
        if (forbidden(req.method ?? 'GET', new URL(path, 'http://x').pathname)) {
          res.writeHead(403, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              type: 'invalid_request',
              message: 'You may not change this group',
              documentation_url: 'https://protocol.chat/docs/errors/invalid_request',
            }),
          );
          return;
        }
        const headers = { ...req.headers };
        delete headers.host;
        delete headers['content-length'];
        delete headers.connection;
        const up = await request(target + path, { method: req.method as 'GET', headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
        const text = await up.body.text();
        res.writeHead(up.statusCode, { 'content-type': 'application/json' });
        res.end(text);
      })();
    });
  });
  await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}

const config = (baseUrl: string): ProtocolBackendConfig => ({
  type: 'protocol',
  baseUrl,
  auth: { type: 'bearer', token: 'tok' },
  contacts: { matchOn: 'username', create: false },
  timeoutMs: 5000,
});
const reconciler = (store: Store, baseUrl: string) =>
  new Reconciler(store, protocolBackend.create(config(baseUrl), { logger }), {
    dryRun: false,
    ownerId: 'convsync',
    concurrency: 1,
    ratePerSecond: 1000,
    burst: 10,
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
    logger,
  });

describe('Protocol: a 403 on one group', () => {
  it("fails that group's op (permanent, with its label); the other groups are still synced", async () => {
    sandbox = await ProtocolSandbox.start({ token: 'tok' });
    const [a, b, c] = ['ann', 'bob', 'cid'].map((u) => sandbox!.addContact({ username: u }).id);
    const store = Store.open(':memory:');
    const create = (k: string): PlanOp => ({
      op: 'create',
      key: `group:corp:${k}`,
      name: `Team ${k}`,
      members: [a!],
      groups: [`corp:${k}`],
      onGroupRemoved: 'keep',
      reason: 't',
    });
    expect((await reconciler(store, sandbox.baseUrl).apply(planOf([create('a'), create('b')]), store.runs.start('sync'))).failed).toEqual([]);
    const id = (k: string) => store.bindingOf(`group:corp:${k}`)!.conversationId;
    const locked = id('a');
    const url = await forbidding(sandbox.url, (method, path) => method === 'PUT' && path === `/v1/groups/${locked}`);
    const add = (k: string): PlanOp => ({ op: 'add', key: `group:corp:${k}`, name: `Team ${k}`, conversationId: id(k), members: [b!, c!], reason: 't' });
    const result = await reconciler(store, `${url}/v1`).apply(planOf([add('a'), add('b')]), store.runs.start('sync'));
    expect(result.authFailed).toBeUndefined();
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]).toMatchObject({ kind: 'permanent', label: 'invalid_request' });
    expect(result.skipped).toBe(0);
    // the other group was synced
    expect(sandbox.groups.get(id('b'))!.contacts.sort()).toEqual([a!, b!, c!].sort());
  });

  it('a drift refresh that gets a 403 reading one group skips it as unreadable: neither stops nor unbinds', async () => {
    sandbox = await ProtocolSandbox.start({ token: 'tok' });
    const [a] = ['ann'].map((u) => sandbox!.addContact({ username: u }).id);
    const store = Store.open(':memory:');
    const create = (k: string): PlanOp => ({
      op: 'create',
      key: `group:corp:${k}`,
      name: `Team ${k}`,
      members: [a!],
      groups: [`corp:${k}`],
      onGroupRemoved: 'keep',
      reason: 't',
    });
    expect((await reconciler(store, sandbox.baseUrl).apply(planOf([create('a'), create('b')]), store.runs.start('sync'))).failed).toEqual([]);
    const id = (k: string) => store.bindingOf(`group:corp:${k}`)!.conversationId;
    // a token scope that may not read the groups (or one group): says nothing of whether they exist
    const url = await forbidding(sandbox.url, (method, path) => method === 'GET' && /^\/v1\/groups\/./.test(path));
    const r = await reconciler(store, `${url}/v1`).refresh(store.loadSnapshot());
    expect(r).toEqual({ drift: [], unreadable: 2 });
    expect(id('a')).toBeDefined();
  });

  it('a token refused everywhere (401) still stops the run', async () => {
    sandbox = await ProtocolSandbox.start({ token: 'tok' });
    const backend = protocolBackend.create({ ...config(sandbox.baseUrl), auth: { type: 'bearer', token: 'wrong' } }, { logger });
    expect(await backend.whoami().catch((e: unknown) => e)).toMatchObject({ kind: 'auth', status: 401 });
  });
});
