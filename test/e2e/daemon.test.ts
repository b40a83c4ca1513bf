import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { desiredState, startCli, startHarness, until, wireState, type Harness } from '../helpers/harness.js';

const SYNC_TOKEN = 'harness-sync-token';

/** starts `convsync daemon`, waits for its HTTP server, returns its URL */
async function startDaemon(h: Harness, env: Record<string, string> = {}) {
  const proc = startCli(['daemon', '--config', h.configFile], env);
  let stderr = '';
  proc.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 400 && !/"url":"([^"]+)"/.test(stderr); i++) await sleep(10);
  const url = /"url":"([^"]+)"/.exec(stderr)?.[1];
  if (!url) {
    proc.child.kill('SIGKILL');
    throw new Error(`the daemon did not start: ${stderr}`);
  }
  return { ...proc, url, logs: () => stderr };
}

async function get(url: string, headers: Record<string, string> = {}, method: 'GET' | 'POST' = 'GET') {
  const res = await request(url, { method, headers });
  return { status: res.statusCode, text: await res.body.text() };
}

describe('convsync daemon', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  function configure(extra: Record<string, unknown> = {}) {
    writeFileSync(join(h.dir, 'sync-token'), `${SYNC_TOKEN}\n`);
    h.writeConfig({
      schedule: '0 0 1 1 *',
      server: { host: '127.0.0.1', port: 0, syncTokenFile: './sync-token' },
      log: { level: 'info' },
      ...extra,
    });
  }

  it('syncs at start, serves health, readiness and metrics, runs on POST /sync, and stops on SIGTERM', async () => {
    h = await startHarness({ groups: 3, membersPerGroup: 3 });
    configure();
    // a folder of its own for the port it tells the image's HEALTHCHECK
    const tmp = mkdtempSync(join(tmpdir(), 'convsync-daemon-tmp-'));
    const d = await startDaemon(h, { TMPDIR: tmp });
    await until(() => h.wire.conversations.size === 3, 'three conversations');
    await until(async () => /convsync_runs_total\{result="ok"\} 1/.test((await get(`${d.url}/metrics`)).text), 'one ok run in the metrics');

    expect(await get(`${d.url}/healthz`)).toEqual({ status: 200, text: '{"status":"ok"}' });
    expect(readFileSync(join(tmp, 'convsync-daemon.port'), 'utf8')).toBe(new URL(d.url).port);
    const healthcheck = spawnSync(process.execPath, [fileURLToPath(new URL('../../dist/healthcheck.js', import.meta.url))], { env: { TMPDIR: tmp } });
    expect(healthcheck.status).toBe(0);
    const ready = await get(`${d.url}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = (await get(`${d.url}/metrics`)).text;
    for (const name of [
      'convsync_run_duration_seconds_count 1',
      'convsync_ops_total{op="create",result="done"} 3',
      'convsync_last_success_timestamp_seconds',
      'convsync_consecutive_failures 0',
      'convsync_quarantined 0',
      'convsync_drift_members 0',
    ]) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toMatch(/convsync_backend_requests_total\{backend="wire",status="201"\} 3/);

    expect((await get(`${d.url}/sync`, {}, 'POST')).status).toBe(401);
    expect((await get(`${d.url}/sync`, { authorization: 'Bearer wrong' }, 'POST')).status).toBe(401);
    h.scim.renameGroup(h.directory.groups[0]!.id, 'team-renamed');
    const synced = await get(`${d.url}/sync?wait=true`, { authorization: `Bearer ${SYNC_TOKEN}` }, 'POST');
    expect(synced.status).toBe(200);
    expect(JSON.parse(synced.text)).toMatchObject({ exitCode: 0, summary: { rename: 1 } });
    expect(wireState(h.wire, h.botId).has('Team renamed')).toBe(true);
    // the run thread copies what a run wrote from the log into the database file once it has answered
    const dbFile = join(h.dir, 'convsync.db');
    await until(() => readFileSync(dbFile).includes('Team renamed'), 'the rename in the database file, past the log');

    // one writer per database
    const second = await h.cli(['daemon']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/another convsync \(pid \d+ on .+, daemon\) is writing to this database .* only one writer is allowed/);
    const oneShot = await h.cli(['sync']);
    expect(oneShot.code).toBe(1);

    d.child.kill('SIGTERM');
    const end = await d.done;
    expect(end.code).toBe(0);
    expect(d.logs()).toMatch(/"msg":"stopped"/);
    expect(existsSync(join(tmp, 'convsync-daemon.port'))).toBe(false);
    // the lease is released: a one-shot sync may run now
    expect((await h.cli(['sync'])).code).toBe(0);
  });

  it('is not ready while the backend refuses its credentials', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 1 });
    configure();
    writeFileSync(join(h.dir, 'wire-password'), 'not-the-password\n');
    const d = await startDaemon(h);
    await until(async () => (await get(`${d.url}/readyz`)).status === 503, 'not ready');
    const ready = JSON.parse((await get(`${d.url}/readyz`)).text) as { problems: string[] };
    expect(ready.problems.join()).toMatch(/the backend refused the credentials: wire 403 invalid-credentials/);
    expect((await get(`${d.url}/healthz`)).status).toBe(200);
    expect((await get(`${d.url}/metrics`)).text).toMatch(/convsync_runs_total\{result="error"\} 1/);
    d.child.kill('SIGTERM');
    expect((await d.done).code).toBe(0);
  });

  it('keeps its Wire session while explain and validate --check-backend sign in beside it', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 2, wire: { faults: { tokenLifetimeSeconds: 2 } } });
    configure();
    const d = await startDaemon(h);
    await until(() => h.wire.conversations.size === 2, 'two conversations');
    const group = h.directory.groups[0]!.displayName;
    for (const args of [
      ['validate', '--check-backend'],
      ['explain', '--group', group],
    ]) {
      const res = await h.cli(args);
      expect(res.code, res.stderr).toBe(0);
    }
    // the daemon's token has expired: its next run renews it with its cookie, which the commands left alive
    await sleep(2_100);
    const mark = h.wire.calls.length;
    h.scim.renameGroup(h.directory.groups[0]!.id, 'team-renamed');
    const synced = await get(`${d.url}/sync?wait=true`, { authorization: `Bearer ${SYNC_TOKEN}` }, 'POST');
    expect(JSON.parse(synced.text)).toMatchObject({ exitCode: 0, summary: { rename: 1 } });
    expect(h.wire.logins.map((l) => l.label)).toEqual(['convsync', 'convsync-read', 'convsync-read']);
    const renewals = h.wire.calls.slice(mark).filter((c) => c.path === '/access');
    expect(renewals.map((c) => c.status)).toEqual([200]);
    d.child.kill('SIGTERM');
    expect((await d.done).code).toBe(0);
  });

  it('skips and counts a scheduled run that finds the previous one still going', async () => {
    h = await startHarness({ groups: 30, membersPerGroup: 2, wire: { faults: { latencyMs: 60 } } });
    configure({ schedule: '* * * * * *', reconcile: { concurrency: 1, ratePerSecond: 1000, burst: 50 } });
    const d = await startDaemon(h);
    await until(async () => /convsync_runs_skipped_total [1-9]/.test((await get(`${d.url}/metrics`)).text), 'a skipped run in the metrics', 15_000);
    d.child.kill('SIGTERM');
    expect((await d.done).code).toBe(0);
  });

  it('on SIGTERM during a large apply, finishes the call in flight, leaves the journal consistent, and the next start completes', async () => {
    h = await startHarness({ groups: 60, membersPerGroup: 2, wire: { faults: { latencyMs: 25 } } });
    configure({ reconcile: { concurrency: 2, ratePerSecond: 1000, burst: 50 } });
    const d = await startDaemon(h);
    await until(() => h.wire.writeCalls().length >= 10, 'ten writes');
    d.child.kill('SIGTERM');
    const end = await d.done;
    expect(end.code).toBe(0);
    expect(h.wire.conversations.size).toBeLessThan(60);
    const store = Store.open(join(h.dir, 'convsync.db'));
    expect(store.journal.pendingRows()).toEqual([]);
    // every conversation on Wire is recorded: the calls in flight were journaled before exiting
    expect(store.loadSnapshot().conversations.length).toBe(h.wire.conversations.size);
    store.close();

    const again = await h.cli(['sync']);
    expect(again.code, again.stderr).toBe(0);
    expect(wireState(h.wire, h.botId)).toEqual(desiredState(h.scim, h.wireId));
  });
});
