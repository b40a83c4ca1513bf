import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { mixinBackend } from '../../src/backends/mixin/index.js';
import type { PlanOp } from '../../src/plan/types.js';
import { MixinSandbox } from '../../src/sandbox/mixin/server.js';
import { mixinReconciler } from '../helpers/mixin-reconciler.js';
import { planOf } from '../helpers/plan.js';

/**
 * Mixin answers its errors with HTTP 202 (reference §5.1). An error carrying status 202 reads to
 * the op runner as "a 2xx whose body could not be read" (madeButUnread): a create Mixin refused
 * outright is taken for a lost answer, left pending, and blocks the key.
 */
const logger = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'convsync-mixin-errors-'));
let sandbox: MixinSandbox | undefined;
afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

describe('Mixin refusals on create (HTTP 202 error envelope)', () => {
  it('a group-full refusal is a capacity failure, not a lost answer left pending', async () => {
    sandbox = await MixinSandbox.start({ maxMembers: 3 });
    const { people, store, reconciler: r } = mixinReconciler(sandbox, dir, 5, { settleMs: 60_000 });
    const op: PlanOp = { op: 'create', key: 'group:corp:x', name: 'Team x', members: people, groups: ['corp:x'], onGroupRemoved: 'keep', reason: 'test' };
    const result = await r.apply(planOf([op]), store.runs.start('sync'));
    expect(sandbox.conversations.size).toBe(0);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]).toMatchObject({ kind: 'capacity', label: '20116' });
    // nothing was made: the key is not held by a create "still being looked for"
    expect(store.journal.createPending('group:corp:x')).toBe(false);
  });
});

describe('Mixin behind an edge that throttles with HTTP 429', () => {
  it('an HTTP 429 (not Mixin envelope) is throttling, retried, not a permanent contract failure', async () => {
    const { startProxy } = await import('../helpers/gateway-proxy.js');
    sandbox = await MixinSandbox.start();
    const bot = sandbox.createBot();
    const file = join(dir, `ks-edge-${bot.userId}.json`);
    writeFileSync(file, JSON.stringify(bot.keystore));
    let throttled = 1;
    const proxy = await startProxy(sandbox.url, (method, path) => (path === '/me' && throttled-- > 0 ? { kind: 'fail', status: 429 } : { kind: 'pass' }));
    try {
      const backend = mixinBackend.create(
        { type: 'mixin', baseUrl: proxy.url, keystoreFile: file, maxMembers: 256, tokenLifetimeSeconds: 60, verifyUsers: true, timeoutMs: 5000 },
        { logger },
      );
      const e = await backend.whoami().catch((x: unknown) => x);
      expect(e).toMatchObject({ kind: 'transient', throttled: true });
    } finally {
      await proxy.stop();
    }
  });
});
