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
