import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { mixinBackend } from '../../src/backends/mixin/index.js';
import type { PlanOp } from '../../src/plan/types.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { MixinSandbox } from '../../src/sandbox/mixin/server.js';
import { Store } from '../../src/store/store.js';
import { startProxy } from '../helpers/gateway-proxy.js';
import { planOf } from '../helpers/plan.js';

/**
 * refresh.ts: "a bare 403 from a gateway or an ACL in front of it says nothing of the conversation".
 * Mixin itself answers only 20x and 500 (reference §5.1); an HTML 403 page from an edge in front of it
 * passes call() and fails parse() as a contract error that keeps HTTP 403 (and label `contract`),
 * which refresh takes as "convsync can no longer read it": every conversation is let go at once.
 */
const logger = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'convsync-mixin-gw-'));
let sandbox: MixinSandbox | undefined;
let stopProxy: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stopProxy?.();
  await sandbox?.stop();
  sandbox = undefined;
});

describe('Mixin drift refresh behind an edge that answers 403 pages', () => {
  it('skips the conversations as unreadable, never lets them go', async () => {
    sandbox = await MixinSandbox.start();
    const bot = sandbox.createBot();
    const file = join(dir, `ks-${bot.userId}.json`);
    writeFileSync(file, JSON.stringify(bot.keystore));
    const people = Array.from({ length: 2 }, () => sandbox!.addUser().user_id);
    const proxy = await startProxy(sandbox.url, (m, p) =>
      blocking && m === 'GET' && p.startsWith('/conversations/') ? { kind: 'fail', status: 403 } : { kind: 'pass' },
    );
    let blocking = false;
    stopProxy = proxy.stop;
    const store = Store.open(':memory:');
    const r = new Reconciler(
      store,
      mixinBackend.create(
        { type: 'mixin', baseUrl: proxy.url, keystoreFile: file, maxMembers: 256, tokenLifetimeSeconds: 60, verifyUsers: true, timeoutMs: 5000 },
        { logger },
      ),
      { dryRun: false, ownerId: 'convsync', concurrency: 1, ratePerSecond: 1000, burst: 10, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 }, logger },
    );
    const create = (k: string): PlanOp => ({
      op: 'create',
      key: `group:corp:${k}`,
      name: `Team ${k}`,
      members: people,
      groups: [`corp:${k}`],
      onGroupRemoved: 'keep',
      reason: 't',
    });
    expect((await r.apply(planOf([create('a'), create('b')]), store.runs.start('sync'))).failed).toEqual([]);
    blocking = true;
    const refreshed = await r.refresh(store.loadSnapshot());
    expect(refreshed).toEqual({ drift: [], unreadable: 2 });
  });
});
