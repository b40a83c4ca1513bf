import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
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

/**
 * A large channel (v13+, whole list over nginz's 512k) falls back to single calls, but all of them
 * inside ONE updateConversation attempt: one rate-limit token for hundreds of calls, and any 420
 * among them starts the whole list again. Under a rate limit it never converges.
 */
describe('Wire channel: the single-call fallback of a large channel', () => {
  it('converges under a rate limit that answers 420 every 50th request', async () => {
    wire = await WireSandbox.start({ features: { channels: true, mls: true }, faults: { retryAfterSeconds: 0 } });
    wire.addUser({ email: 'bot@example.com', password: 'bot-password', role: 'admin' });
    const people = Array.from({ length: 7700 }, () => wire!.addUser({}).id);
    const backend = wireBackend.create(
      {
        type: 'wire',
        conversationType: 'channel',
        baseUrl: wire.url,
        email: 'bot@example.com',
        password: 'bot-password',
        label: 'convsync',
        maxConversationSize: 500,
        apiVersions: { min: 6, max: 15 },
      },
      { logger },
    );
    const store = Store.open(join(mkdtempSync(join(tmpdir(), 'convsync-channel-split-')), 'db.sqlite'));
    const r = new Reconciler(store, backend, {
      dryRun: false,
      ownerId: 'convsync',
      concurrency: 1,
      ratePerSecond: 1000,
      burst: 100,
      retry: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 5 },
      logger,
    });
    const made = await r.apply(
      planOf([{ op: 'create', key: 'all', name: 'all', members: [], groups: ['corp:all'], onGroupRemoved: 'keep', reason: 't' }]),
      store.runs.start('sync'),
    );
    expect(made.failed).toEqual([]);
    const id = store.bindingOf('all')!.conversationId;
    const c = wire.conversations.get(id)!;
    for (const p of people.slice(0, 7600)) c.members.set(p, 'wire_member');
    // 120 leave, 100 join: the PUT would be ~560k, so single calls
    const ops: PlanOp[] = [
      ...people.slice(0, 120).map((m): PlanOp => ({ op: 'remove', key: 'all', name: 'all', conversationId: id, members: [m], reason: 't' })),
      { op: 'add', key: 'all', name: 'all', conversationId: id, members: people.slice(7600), reason: 't' },
    ];
    wire.faults.throttleEvery = 50;
    const res = await r.apply(planOf(ops), store.runs.start('sync'));
    expect(res.failed.map((f) => f.error).slice(0, 1)).toEqual([]);
    expect(c.members.has(people[0]!)).toBe(false);
    expect(c.members.has(people[7699]!)).toBe(true);
  }, 60_000);
});
