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
