import { afterAll, beforeAll, expect, it } from 'vitest';
import { runOnce } from '../../src/reconcile/run.js';
import { pushApps } from '../helpers/push-app.js';

let apps: Awaited<ReturnType<typeof pushApps>>;
beforeAll(async () => {
  apps = await pushApps();
});
afterAll(() => apps.stop());

it('a conversation made while the store could not record it is adopted by the next run, never made twice', async () => {
  const t = await apps.pushApp();
  try {
    t.group('s', 'team-sre', ['u0', 'u1']);
    // the store refuses the write that records the create (as "database is locked" would), once
    const journal = t.app.store.journal;
    const done = journal.done.bind(journal);
    let refused = 0;
    journal.done = (...args) => {
      if (refused++ === 0) throw new Error('database is locked');
      return done(...args);
    };
    await expect(runOnce(t.app, { mode: 'sync' })).rejects.toThrow(/database is locked/);
    const named = () => [...apps.wire.conversations.values()].filter((c) => c.name === 'Team sre');
    expect(named()).toHaveLength(1);
    const next = await runOnce(t.app, { mode: 'sync' });
    expect(next.exitCode).toBe(0);
    expect(next.recovered).toMatchObject({ adopted: 1 });
    expect(named()).toHaveLength(1);
    expect(t.app.store.bindingOf('group:idp:s')).toMatchObject({ conversationId: named()[0]!.id });
    expect((await runOnce(t.app, { mode: 'dry-run' })).plan.ops).toEqual([]);
  } finally {
    await t.close();
  }
});

it('a run that fails on a store write finishes its calls in flight before it ends, so the next run never makes what they make', async () => {
  const t = await apps.pushApp();
  try {
    for (let i = 0; i < 40; i++) t.group(`s${i}`, `team-r${String(i).padStart(2, '0')}`, [`u${i % 20}`]);
    const journal = t.app.store.journal;
    const done = journal.done.bind(journal);
    let refused = 0;
    let slowUntil = 0;
    journal.done = (...args) => {
      if (refused++ === 0) {
        // the store is locked for a moment; the creates in flight then are slow to answer
        slowUntil = Date.now() + 30;
        throw new Error('database is locked');
      }
      return done(...args);
    };
    const backend = t.app.backend;
    const create = backend.create.bind(backend);
    backend.create = async (...args) => {
      if (Date.now() < slowUntil) await new Promise((r) => setTimeout(r, 1500));
      return create(...args);
    };
    apps.wire.faults.latencyMs = 20;
    await expect(runOnce(t.app, { mode: 'sync' })).rejects.toThrow(/database is locked/);
    slowUntil = Date.now() + 30;
    const next = await runOnce(t.app, { mode: 'sync' });
    expect(next.exitCode).toBe(0);
    apps.wire.faults.latencyMs = 0;
    const made = new Map<string, number>();
    for (const c of apps.wire.conversations.values()) if (c.name?.startsWith('Team r')) made.set(c.name, (made.get(c.name) ?? 0) + 1);
    expect(made.size).toBe(40);
    expect([...made].filter(([, n]) => n > 1)).toEqual([]);
    expect((await runOnce(t.app, { mode: 'dry-run' })).plan.ops).toEqual([]);
  } finally {
    apps.wire.faults.latencyMs = 0;
    await t.close();
  }
});
