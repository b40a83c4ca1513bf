import { afterAll, beforeAll, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { runnerOf } from '../../src/daemon/runner.js';
import { createMetrics } from '../../src/metrics.js';
import { pushApps } from '../helpers/push-app.js';

let apps: Awaited<ReturnType<typeof pushApps>>;
beforeAll(async () => {
  apps = await pushApps();
});
afterAll(() => apps.stop());

it('names the run in flight and what asked for it once the run thread has recorded it', async () => {
  const t = await apps.pushApp();
  try {
    for (let i = 0; i < 20; i++) t.group(`s${i}`, `team-live-${i}`, [`u${i}`]);
    apps.wire.faults.latencyMs = 30;
    let daemon: Daemon | undefined;
    const own = runnerOf({ ...t.app, onRunStart: (runId) => daemon!.started(runId) });
    // as on the run thread: the run is recorded once the message has crossed
    const runner = { ...own, run: async (o: Parameters<typeof own.run>[0]) => (await new Promise((r) => setTimeout(r, 5)), own.run(o)) };
    daemon = new Daemon(t.app, createMetrics(), { schedule: '0 0 1 1 *', debounceMs: 10 }, runner);
    const outcome = daemon.request('all', 'api');
    expect(daemon.live()).toMatchObject({ trigger: 'api', runId: undefined });
    for (let i = 0; i < 200 && daemon.live()?.runId === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    const live = daemon.live();
    const during = t.app.store.views.runs(1)[0];
    const o = await outcome;
    expect(live).toMatchObject({ trigger: 'api', runId: o!.runId });
    expect(during).toMatchObject({ id: o!.runId, trigger: 'api' });
    expect(during!.finishedAt).toBeFalsy();
  } finally {
    apps.wire.faults.latencyMs = 0;
    await t.close();
  }
});

it('records the end of a run whose thread ended under it, with why, so that it is not shown running for ever', async () => {
  const t = await apps.pushApp();
  try {
    let daemon: Daemon | undefined;
    const own = runnerOf(t.app);
    // as a run thread that dies once it has recorded its run: the row is left open
    const runner = {
      ...own,
      run: async () => {
        await new Promise((r) => setTimeout(r, 5));
        daemon!.started(t.app.store.runs.start('sync'));
        throw new Error('the run thread exited (code 1)');
      },
    };
    daemon = new Daemon(t.app, createMetrics(), { schedule: '0 0 1 1 *', debounceMs: 10 }, runner);
    expect(await daemon.request('all', 'api')).toBeUndefined();
    const [run] = t.app.store.runs.recent(1);
    expect(run).toMatchObject({ result: 'error', exitCode: 1, error: 'interrupted: the run thread exited (code 1)' });
    expect(run!.finishedAt).toBeTruthy();

    // a run that recorded its own end keeps it, whatever its call answers afterwards
    const named = runnerOf({ ...t.app, onRunStart: (runId) => daemon!.started(runId) });
    const late = { ...named, run: async () => (await named.run({ mode: 'sync' }), Promise.reject(new Error('the answer was lost'))) };
    daemon = new Daemon(t.app, createMetrics(), { schedule: '0 0 1 1 *', debounceMs: 10 }, late);
    await daemon.request('all', 'api');
    expect(t.app.store.runs.recent(1).map((r) => [r.result, r.error])).toEqual([['ok', null]]);
  } finally {
    await t.close();
  }
});

it('a scheduled tick during a run after a push runs a full run after it, not skipped', async () => {
  const t = await apps.pushApp();
  let daemon: Daemon | undefined;
  try {
    t.group('s1', 'team-tick', ['u1']);
    const metrics = createMetrics();
    const own = runnerOf(t.app);
    const runs: string[] = [];
    let skippedDuringScoped: number | undefined;
    const runner = {
      ...own,
      run: async (o: Parameters<typeof own.run>[0]) => {
        runs.push(o.scope ? 'scoped' : 'full');
        if (!o.scope) return own.run(o);
        // long enough for the every-second schedule to tick during it
        await new Promise((r) => setTimeout(r, 2100));
        skippedDuringScoped = (await metrics.runsSkipped.get()).values[0]?.value ?? 0;
        return own.run(o);
      },
    };
    daemon = new Daemon(t.app, metrics, { schedule: '* * * * * *', debounceMs: 10 }, runner);
    daemon.start();
    for (let i = 0; i < 300 && runs.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200));
    daemon.changed(['idp:s1']);
    const fullAfterScoped = () => runs.includes('scoped') && runs.slice(runs.indexOf('scoped')).includes('full');
    for (let i = 0; i < 500 && !fullAfterScoped(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(skippedDuringScoped).toBe(0);
    expect(runs.slice(runs.indexOf('scoped'))).toEqual(expect.arrayContaining(['scoped', 'full']));
  } finally {
    await daemon?.stop(5000);
    await t.close();
  }
}, 20_000);
