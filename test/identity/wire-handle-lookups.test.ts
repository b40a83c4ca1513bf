import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema.js';
import { createApp } from '../../src/main.js';
import { approveRun, runOnce } from '../../src/reconcile/run.js';
import { WireSandbox } from '../../src/sandbox/wire/server.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function wireApp(users: { id: string; userName: string }[], identity: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-wire-identity-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const wire = await WireSandbox.start({});
  cleanups.push(() => wire.stop());
  wire.addUser({ email: 'bot@example.com', password: 'bot-password' });
  const ids = new Map(users.map((u) => [u.userName, wire.addUser({ handle: u.userName.toLowerCase() }).id]));
  const file = join(dir, 'directory.json');
  const write = (members: string[], us: object[] = users.map((u) => ({ ...u, active: true }))) =>
    writeFileSync(file, JSON.stringify({ users: us, groups: [{ id: 'a', displayName: 'team-a', members }] }));
  write(users.map((u) => u.id));
  const config = ConfigSchema.parse({
    store: { path: join(dir, 'db.sqlite') },
    sources: [{ name: 'dir', type: 'file', path: file }],
    backend: { type: 'wire', baseUrl: wire.url, email: 'bot@example.com', password: 'bot-password', teamId: wire.teamId },
    identity: { from: 'userName', lookup: 'handle', ...identity },
    mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}' }],
    guards: { maxRemovalsPerRun: 100, maxRemovalRatio: 1 },
    reconcile: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2, lostAnswerSettleMs: 0, fullPlanEvery: '0s' },
    drift: { refreshEveryRuns: 0 },
    log: { level: 'silent' },
  });
  const app = await createApp(config, { logger: pino({ level: 'silent' }), writer: 'test' });
  let open = true;
  const close = async () => {
    if (open) await app.close();
    open = false;
  };
  cleanups.push(close);
  return { app, wire, ids, write, close };
}

it('lookups that keep failing (503) end the run; nobody is taken as not found and removed', async () => {
  const users = Array.from({ length: 6 }, (_, i) => ({ id: `u${i}`, userName: `p${i}` }));
  const { app, wire } = await wireApp(users, { cacheTtlHours: 0.000001 });
  expect((await runOnce(app, { mode: 'sync' })).exitCode).toBe(0);
  const conv = [...wire.conversations.values()][0]!;
  expect(conv.members.size).toBe(7);
  wire.faults.errorRatio = 1;
  await runOnce(app, { mode: 'sync' }).catch(() => undefined);
  wire.faults.errorRatio = 0;
  expect(conv.members.size).toBe(7);
  const again = await runOnce(app, { mode: 'sync' });
  expect(again.plan.ops).toEqual([]);
});

it('a dry run right after an upgrade (members stored as uuid@own-domain) plans nothing, as the sync after it does', async () => {
  const users = Array.from({ length: 4 }, (_, i) => ({ id: `u${i}`, userName: `p${i}` }));
  const { app, wire } = await wireApp(users);
  expect((await runOnce(app, { mode: 'sync' })).exitCode).toBe(0);
  // what an earlier version left: ids qualified with the backend's own domain, no id form recorded
  const db = (app.store as unknown as { db: import('better-sqlite3').Database }).db;
  db.prepare(`UPDATE user_ids SET user_id = user_id || '@' || ?`).run(wire.domain);
  db.prepare(`DELETE FROM meta WHERE key = 'id_form'`).run();
  const dry = await runOnce(app, { mode: 'dry-run' });
  const sync = await runOnce(app, { mode: 'sync' });
  expect(sync.plan.ops).toEqual([]);
  expect(dry.plan.ops).toEqual([]);
});

it('approving a run held back before an upgrade (its plan naming uuid@own-domain) releases its removals', async () => {
  const users = Array.from({ length: 6 }, (_, i) => ({ id: `u${i}`, userName: `p${i}` }));
  const { app, wire, write, close } = await wireApp(users);
  expect((await runOnce(app, { mode: 'sync' })).exitCode).toBe(0);
  const conv = [...wire.conversations.values()][0]!;
  // four leave at once: past maxRemovalsPerRun (set below), held back
  (app.config.guards as { maxRemovalsPerRun: number }).maxRemovalsPerRun = 2;
  write(['u0', 'u1']);
  const held = await runOnce(app, { mode: 'sync' });
  expect(held.exitCode).toBe(3);
  // what an earlier version left: ids qualified with its own domain, in the store and in the held run's plan
  const db = (app.store as unknown as { db: import('better-sqlite3').Database }).db;
  const at = `@${wire.domain}`;
  db.prepare(`UPDATE user_ids SET user_id = user_id || ?`).run(at);
  db.prepare(`DELETE FROM meta WHERE key = 'id_form'`).run();
  const plan = JSON.parse(db.prepare(`SELECT plan FROM runs WHERE id = ?`).pluck().get(held.runId) as string);
  for (const b of plan.blocked) if (b.op.op === 'remove') b.op.members = b.op.members.map((m: string) => m + at);
  db.prepare(`UPDATE runs SET plan = ? WHERE id = ?`).run(JSON.stringify(plan), held.runId);
  // `convsync approve` is a process of its own: its backend has not learnt the domain before it asks who it is
  const config = app.config;
  await close();
  const fresh = await createApp(config, { logger: pino({ level: 'silent' }), writer: 'test' });
  cleanups.push(() => fresh.close());
  const approved = await approveRun(fresh, held.runId);
  expect(approved.released).toBe(4);
  expect(conv.members.size).toBe(3);
});
