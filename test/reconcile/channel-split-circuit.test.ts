import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { wireBackend } from '../../src/backends/wire/index.js';
import type { PlanOp } from '../../src/plan/types.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { WireSandbox } from '../../src/sandbox/wire/server.js';
import { Store } from '../../src/store/store.js';
import { planOf } from '../helpers/plan.js';

const logger = pino({ level: 'silent' });
let wire: WireSandbox | undefined;
afterEach(async () => {
  await wire?.stop();
  wire = undefined;
});

async function setup(maxVersion: number) {
  wire = await WireSandbox.start({ features: { channels: true, mls: true }, faults: { retryAfterSeconds: 0 } });
  wire.addUser({ email: 'bot@example.com', password: 'bot-password', role: 'admin' });
  const people = Array.from({ length: 30 }, () => wire!.addUser({}).id);
  const backend = wireBackend.create(
    {
      type: 'wire',
      conversationType: 'channel',
      baseUrl: wire.url,
      email: 'bot@example.com',
      password: 'bot-password',
      label: 'convsync',
      maxConversationSize: 500,
      apiVersions: { min: 6, max: maxVersion },
    },
    { logger },
  );
  const store = Store.open(join(mkdtempSync(join(tmpdir(), 'convsync-split-circuit-')), 'db.sqlite'));
  const ac = new AbortController();
  const r = new Reconciler(store, backend, {
    dryRun: false,
    ownerId: 'convsync',
    concurrency: 1,
    ratePerSecond: 1000,
    burst: 100,
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    circuitThreshold: 5,
    signal: ac.signal,
    logger,
  });
  const made = await r.apply(
    planOf([{ op: 'create', key: 'all', name: 'all', members: [], groups: ['corp:all'], onGroupRemoved: 'keep', reason: 't' }]),
    store.runs.start('sync'),
  );
  expect(made.failed).toEqual([]);
  const id = store.bindingOf('all')!.conversationId;
  const c = wire.conversations.get(id)!;
  for (const p of people) c.members.set(p, 'wire_member');
  const removes = people.map((m): PlanOp => ({ op: 'remove', key: 'all', name: 'all', conversationId: id, members: [m], reason: 't' }));
  return { r, store, removes, ac, id };
}

it('a channel whose changes go op by op still opens the circuit: a failing backend is not sent every op of the conversation', async () => {
  // v12: no PUT …/members, every batch of a channel goes op by op (SplitCallsError)
  const { r, store, removes } = await setup(12);
  wire!.faults.errorRatio = 1; // every call a 503
  const before = wire!.calls.length;
  const res = await r.apply(planOf(removes), store.runs.start('sync'));
  const deletes = wire!.calls.slice(before).filter((c) => c.method === 'DELETE').length;
  expect(res.circuitOpen).toBe(true);
  // 5 failing ops (3 attempts each) open the circuit; the other 25 wait for the next run
  expect(deletes).toBeLessThanOrEqual(5 * 3);
  expect(res.skipped).toBeGreaterThan(0);
});

it('a channel whose changes go op by op stops at an abort (daemon stop): the ops left are skipped, not all sent', async () => {
  const { r, store, removes, ac } = await setup(12);
  wire!.faults.latencyMs = 50;
  const run = r.apply(planOf(removes), store.runs.start('sync'));
  setTimeout(() => ac.abort(), 300);
  const res = await run;
  // a daemon stopping lets the call in flight finish; the other 20-odd calls wait for the next run
  expect(res.done).toBeLessThan(15);
  expect(res.skipped).toBeGreaterThan(0);
});
