import Database from 'better-sqlite3';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { createApp } from '../../src/main.js';
import { runOnce } from '../../src/reconcile/run.js';
import { Store } from '../../src/store/store.js';
import { scimToWire } from '../helpers/scim-wire.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

it('a writer paused past its lease, whose lease another took, makes no further conversation when it resumes', async () => {
  const { wire, config, cleanup: stop } = await scimToWire({ groups: 12, membersPerGroup: 2, users: 6, seed: 5, reconcile: { concurrency: 1 } });
  cleanup.push(stop);
  const a = await createApp(config, { logger: pino({ level: 'silent' }), writer: 'daemon' });
  cleanup.push(() => a.close());
  // the first create's answer is held back, as for a process paused while it waits
  wire.loseResponses({ method: 'POST', path: /^\/v\d+\/conversations$/, as: 'slow', delayMs: 500 });
  const running = runOnce(a, { mode: 'sync' }).catch((e: unknown) => e);
  while (wire.conversations.size === 0) await sleep(5);
  // meanwhile its lease lapsed and another convsync took it
  const db = new Database(config.store.path);
  const lease = JSON.parse(db.prepare(`SELECT value FROM meta WHERE key = 'lease'`).pluck().get() as string) as Record<string, unknown>;
  db.prepare(`UPDATE meta SET value = ? WHERE key = 'lease'`).run(JSON.stringify({ ...lease, renewedAt: new Date(Date.now() - 60_000).toISOString() }));
  db.close();
  const other = Store.open(config.store.path, { writer: { host: 'elsewhere', pid: 1, command: 'sync', nonce: 'other' } });
  const outcome = await running;
  expect(String(outcome)).toMatch(/the writer lease was taken over by another convsync/);
  // the create in flight was made; nothing after it
  expect(wire.conversations.size).toBe(1);
  expect(other.journal.pendingRows().map((r) => r.op.op)).toEqual(['create']);
  other.close();
});
