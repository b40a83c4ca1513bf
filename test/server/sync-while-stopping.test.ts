import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { runnerOf } from '../../src/daemon/runner.js';
import { createMetrics } from '../../src/metrics.js';
import { createHttpApp, listen } from '../../src/server/http.js';
import { pushApps } from '../helpers/push-app.js';

// once the daemon is stopping (SIGTERM, or its lease lost), POST /sync still answers
// 202 {"queued": true}, though no run is queued or will ever be (Daemon.request drops it).

let apps: Awaited<ReturnType<typeof pushApps>>;
beforeAll(async () => {
  apps = await pushApps();
});
afterAll(() => apps.stop());

it('POST /sync on a stopping daemon does not say the run was queued', async () => {
  const t = await apps.pushApp();
  const config = { ...t.app.config, server: { ...t.app.config.server, syncToken: 'tok' } };
  const metrics = createMetrics();
  const daemon = new Daemon(t.app, metrics, { schedule: '0 0 1 1 *', debounceMs: 10 }, runnerOf(t.app));
  const { server, url } = await listen(createHttpApp({ config, store: t.app.store, daemon, metrics, logger: pino({ level: 'silent' }) }), '127.0.0.1', 0);
  try {
    // the daemon is stopping (a keep-alive connection still reaches it)
    await daemon.stop(1000);
    const res = await request(`${url}/sync`, { method: 'POST', headers: { authorization: 'Bearer tok' } });
    const body = await res.body.text();
    expect(t.app.store.runs.recent(5)).toEqual([]);
    expect({ status: res.statusCode, body }).not.toEqual({ status: 202, body: '{"queued":true}' });
    expect(res.statusCode).toBe(503);
  } finally {
    await new Promise((r) => server.close(r));
    await t.close();
  }
});
