import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backends/types.js';
import { wireBackend } from '../../src/backends/wire/index.js';
import type { PlanOp } from '../../src/plan/types.js';
import { planOf } from '../helpers/plan.js';
import { TokenBucket } from '../../src/reconcile/rate-limit.js';
import { Reconciler, type ReconcilerOptions } from '../../src/reconcile/reconciler.js';
import { WireSandbox, type WireSandboxOptions } from '../../src/sandbox/wire/server.js';
import { Store } from '../../src/store/store.js';

const logger = pino({ level: 'silent' });
let wire: WireSandbox | undefined;
afterEach(async () => {
  await wire?.stop();
  wire = undefined;
});

const plan = planOf;

const options = (extra: Partial<ReconcilerOptions> = {}): ReconcilerOptions => ({
  dryRun: false,
  ownerId: 'convsync',
  concurrency: 2,
  ratePerSecond: 1000,
  burst: 100,
  retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
  logger,
  ...extra,
});

const create = (key: string, members: string[]): PlanOp => ({
  op: 'create',
  key,
  name: key,
  members,
  groups: [`corp:${key}`],
  onGroupRemoved: 'keep',
  reason: 'test',
});

async function setup(opts: WireSandboxOptions = {}) {
  wire = await WireSandbox.start(opts);
  wire.addUser({ email: 'bot@example.com', password: 'bot-password' });
  const people = Array.from({ length: 4 }, () => wire!.addUser({}).id);
  const backend = wireBackend.create(
    {
      type: 'wire',
      conversationType: 'group',
      baseUrl: wire.url,
      email: 'bot@example.com',
      password: 'bot-password',
      label: 'convsync',
      maxConversationSize: 500,
      apiVersions: { min: 6, max: 9 },
    },
    { logger },
  );
  const store = Store.open(join(mkdtempSync(join(tmpdir(), 'convsync-rec-')), 'db.sqlite'));
  return { wire, people, backend, store };
}

describe('Reconciler', () => {
  it('in dry-run, no mutating backend method is reachable', async () => {
    const calls: string[] = [];
    const throwing = new Proxy({} as Backend, {
      get: (_t, prop) => {
        if (prop === 'capabilities') return { maxMembers: 10, addBatch: 10, removeBatch: 1, removedGroup: 'keep' };
        if (prop === 'id') return 'fake';
        return () => {
          calls.push(String(prop));
          throw new Error(`${String(prop)} called`);
        };
      },
    });
    const store = Store.open(':memory:');
    const r = new Reconciler(store, throwing, options({ dryRun: true }));
    const res = await r.apply(plan([create('a', ['u1'])]), store.runs.start('dry-run'));
    expect(res).toMatchObject({ dryRun: true, done: 0 });
    expect(calls).toEqual([]);
    expect(store.journal.ofRun(1)).toEqual([]);
    const inner = (r as unknown as { backend: Backend }).backend;
    expect(() => inner.create({ name: 'x', members: [] })).toThrow(/dry-run: create must not be called/);
  });

  it('adopts a conversation created just before a crash instead of creating it again', async () => {
    const { wire: w, people, backend, store } = await setup();
    const op = create('group:corp:g1', people.slice(0, 2)) as PlanOp & { op: 'create' };
    // the crash: the journal says pending, the backend has the conversation, the snapshot does not
    store.journal.pending(store.runs.start('sync'), op);
    await backend.create({ name: op.name, members: op.members });
    const r = new Reconciler(store, backend, options({ settleMs: 0 }));
    expect(await r.recover()).toEqual({ resolved: 1, adopted: 1, inFlight: 0 });
    expect(store.journal.pendingRows()).toEqual([]);
    const [conv] = store.loadSnapshot().conversations;
    expect(conv!.key).toBe('group:corp:g1');
    expect(conv!.members.toRecord()).toEqual({ [people[0]!]: 'convsync', [people[1]!]: 'convsync' });
    expect(w.conversations.size).toBe(1);

    // a pending add whose call did land is recorded; one that did not is left for the next plan
    const run = store.runs.start('sync');
    store.journal.pending(run, { op: 'add', key: 'group:corp:g1', name: 'x', conversationId: conv!.conversationId, members: [people[2]!], reason: 'r' });
    await backend.addMembers(conv!.conversationId, [people[2]!]);
    store.journal.pending(run, { op: 'add', key: 'group:corp:g1', name: 'x', conversationId: conv!.conversationId, members: [people[3]!], reason: 'r' });
    await r.recover();
    expect([...store.loadSnapshot().conversations[0]!.members.ids]).toEqual(people.slice(0, 3).sort());

    // a create not found while its answer could still come stays pending; once it cannot, it is
    // marked failed and planned again
    store.journal.pending(store.runs.start('sync'), create('group:corp:g2', []));
    const early = new Reconciler(store, backend, options({ settleMs: 60_000 }));
    expect(await early.recover()).toEqual({ resolved: 0, adopted: 0, inFlight: 1 });
    expect(store.journal.pendingRows()).toHaveLength(1);
    expect(await r.recover()).toEqual({ resolved: 1, adopted: 0, inFlight: 0 });
    expect(store.journal.recentFailures(1)[0]).toMatchObject({ errorKind: 'interrupted' });

    // the backend cannot be asked: the create stays pending (in flight), never taken as not made
    store.journal.pending(store.runs.start('sync'), create('group:corp:g3', []));
    w.faults.errorRatio = 1;
    expect(await r.recover()).toEqual({ resolved: 0, adopted: 0, inFlight: 1 });
    expect(store.journal.pendingRows()).toHaveLength(1);
  });

  it('a permanent 403 on one conversation does not stop the others', async () => {
    const { wire: w, people, backend, store } = await setup();
    const r = new Reconciler(store, backend, options());
    const run = store.runs.start('sync');
    await r.apply(plan([create('a', [people[0]!]), create('b', [people[0]!])]), run);
    const [a, b] = store.loadSnapshot().conversations;
    const bot = [...w.users.values()].find((u) => u.email === 'bot@example.com')!;
    w.conversations.get(a!.conversationId)!.members.set(bot.id, 'wire_member');
    const res = await r.apply(
      plan([
        { op: 'add', key: 'a', name: 'a', conversationId: a!.conversationId, members: [people[1]!], reason: 'r' },
        { op: 'add', key: 'b', name: 'b', conversationId: b!.conversationId, members: [people[1]!], reason: 'r' },
      ]),
      run,
    );
    expect(res.done).toBe(1);
    expect(res.failed).toMatchObject([{ kind: 'permanent', label: 'action-denied', op: { key: 'a' } }]);
    expect(
      store
        .loadSnapshot()
        .conversations.find((c) => c.key === 'b')!
        .members.origin(people[1]!),
    ).toBe('convsync');
  });

  it('opens the circuit after repeated transient failures and leaves the rest for the next run', async () => {
    const { wire: w, people, backend, store } = await setup();
    await backend.whoami();
    w.faults.errorRatio = 1;
    const r = new Reconciler(store, backend, options({ concurrency: 1, circuitThreshold: 3, settleMs: 0 }));
    const res = await r.apply(plan(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => create(k, [people[0]!]))), store.runs.start('sync'));
    expect(res.circuitOpen).toBe(true);
    expect(res.failed).toHaveLength(3);
    expect(res.skipped).toBe(3);
    expect(w.conversations.size).toBe(0);
    // a 503 may come after the change was made: those creates are unknown, not failed
    expect(store.journal.pendingRows().map((j) => j.op.key)).toEqual(['a', 'b', 'c']);
    // the backend recovers: the next run looks for them first, then does the work
    w.faults.errorRatio = 0;
    expect(await r.recover()).toEqual({ resolved: 3, adopted: 0, inFlight: 0 });
    const next = await r.apply(plan(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => create(k, [people[0]!]))), store.runs.start('sync'));
    expect(next).toMatchObject({ circuitOpen: false, done: 6, failed: [] });
    expect(w.conversations.size).toBe(6);
  });

  it('refuses an op on a conversation it does not own (checked again before the call)', async () => {
    const { backend, store } = await setup();
    const r = new Reconciler(store, backend, options());
    const res = await r.apply(
      plan([{ op: 'rename', key: 'nobody', name: 'n', conversationId: 'c', from: 'a', to: 'b', reason: 'r' }]),
      store.runs.start('sync'),
    );
    expect(res.failed[0]!.error).toMatch(/no binding for nobody/);
  });
});

describe('rate limit', () => {
  it('halves the rate on throttling and wins it back call by call', async () => {
    const bucket = new TokenBucket(100, 5);
    bucket.slowDown();
    expect(bucket.currentRate).toBe(50);
    for (let i = 0; i < 5; i++) await bucket.take();
    expect(bucket.currentRate).toBe(60);
  });

  it('a pause holds every caller of the bucket', async () => {
    const bucket = new TokenBucket(1000, 10);
    bucket.pause(80);
    const started = Date.now();
    await Promise.all([bucket.take(), bucket.take()]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
  });
});
