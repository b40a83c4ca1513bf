import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { protocolBackend } from '../../src/backends/protocol/index.js';
import type { ProtocolBackendConfig } from '../../src/config/schema.js';
import { isAmbiguous } from '../../src/errors.js';
import type { PlanOp } from '../../src/plan/types.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { ProtocolSandbox } from '../../src/sandbox/protocol/server.js';
import { Store } from '../../src/store/store.js';
import { startProxy } from '../helpers/gateway-proxy.js';
import { planOf } from '../helpers/plan.js';

/** OAuth2 client credentials in front of the Protocol API: what a token endpoint's trouble means for the call it was for */
const logger = pino({ level: 'silent' });
let sandbox: ProtocolSandbox | undefined;
let proxy: Awaited<ReturnType<typeof startProxy>> | undefined;
afterEach(async () => {
  await proxy?.stop();
  await sandbox?.stop();
  sandbox = undefined;
  proxy = undefined;
});

const oauth = { clientId: 'cid', clientSecret: 's3cret-value', lifetimeSeconds: 3600 };
const config = (root: string): ProtocolBackendConfig => ({
  type: 'protocol',
  baseUrl: `${root}/v1`,
  auth: { type: 'oauth2', tokenUrl: `${root}/oauth/token`, clientId: oauth.clientId, clientSecret: oauth.clientSecret },
  contacts: { matchOn: 'username', create: false },
  timeoutMs: 5000,
});

describe('Protocol OAuth2 token endpoint trouble', () => {
  it('a 502 from the token endpoint is not a lost answer of the call it was for (nothing was sent)', async () => {
    sandbox = await ProtocolSandbox.start({ token: 'static', oauth });
    proxy = await startProxy(sandbox.url, (method, path) => (path === '/oauth/token' ? { kind: 'fail', status: 502 } : { kind: 'pass' }));
    const backend = protocolBackend.create(config(proxy.url), { logger });
    const e = await backend.create({ name: 'Team x', members: [] }).catch((x: unknown) => x);
    expect(sandbox.calls.filter((c) => c.path === '/v1/groups')).toEqual([]);
    // the POST /groups never left: a retry is safe, and the op runner must not look for a group
    expect(isAmbiguous(e)).toBe(false);
  });

  it('a create whose token could not be fetched is not left pending for the next runs', async () => {
    sandbox = await ProtocolSandbox.start({ token: 'static', oauth });
    let tokenDown = true;
    proxy = await startProxy(sandbox.url, (method, path) => (path === '/oauth/token' && tokenDown ? { kind: 'fail', status: 502 } : { kind: 'pass' }));
    const store = Store.open(':memory:');
    const r = new Reconciler(store, protocolBackend.create(config(proxy.url), { logger }), {
      dryRun: false,
      ownerId: 'convsync',
      concurrency: 1,
      ratePerSecond: 1000,
      burst: 10,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
      settleMs: 60_000,
      logger,
    });
    const op: PlanOp = { op: 'create', key: 'group:corp:x', name: 'Team x', members: [], groups: ['corp:x'], onGroupRemoved: 'keep', reason: 'test' };
    const first = await r.apply(planOf([op]), store.runs.start('sync'));
    expect(first.failed).toHaveLength(1);
    expect(first.failed[0]!.error).not.toMatch(/answer lost/);
    tokenDown = false;
    // the token endpoint is back: the next run makes the group
    expect(store.journal.createPending('group:corp:x')).toBe(false);
  });
});

describe('Protocol OAuth2 token renewal', () => {
  it('a token that lives less than the 30 s renewal margin is still used for more than one call', async () => {
    const short = { ...oauth, lifetimeSeconds: 20 };
    sandbox = await ProtocolSandbox.start({ token: 'static', oauth: short });
    const backend = protocolBackend.create(config(sandbox.url), { logger });
    for (let i = 0; i < 5; i++) await backend.list();
    expect(sandbox.calls.filter((c) => c.path === '/oauth/token').length).toBe(1);
  });

  it('calls made together while no token is held fetch one token, not one each', async () => {
    sandbox = await ProtocolSandbox.start({ token: 'static', oauth });
    const backend = protocolBackend.create(config(sandbox.url), { logger });
    await Promise.all(Array.from({ length: 8 }, () => backend.list()));
    expect(sandbox.calls.filter((c) => c.path === '/oauth/token').length).toBe(1);
  });
});
