import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { WireSandbox } from '../../src/sandbox/wire/server.js';
import { CLI } from '../helpers/harness.js';

const TOKEN = 'bench-sync-token';
const seconds3 = (ms: number) => Math.round(ms) / 1000;

/**
 * The same store and directory synced by the daemon (`node dist/cli.js daemon`, a child process),
 * as an operator who runs it rather than a CronJob does: `POST /sync?wait=true` timed from the
 * request to the answer, after two runs with nothing changed (the daemon's run thread, its modules
 * and its store stay up between runs); then, `rounds` times, `change()` (the same share of
 * memberships moved) and one run, with its writes and the window they took on the Wire side.
 */
export async function daemonSyncBench(opts: { dir: string; settings: Record<string, unknown>; wire: WireSandbox; rounds: number; change: () => void }) {
  const { dir, wire } = opts;
  writeFileSync(join(dir, 'sync-token'), TOKEN);
  const config = join(dir, 'convsync-daemon.yaml');
  const settings = {
    ...opts.settings,
    // no scheduled run during the measurement
    schedule: '0 0 1 1 *',
    server: { host: '127.0.0.1', port: 0, syncTokenFile: join(dir, 'sync-token') },
    log: { level: 'info' },
  };
  writeFileSync(config, JSON.stringify(settings));
  // extra node flags for the daemon (--cpu-prof) from BENCH_DAEMON_NODE_ARGS, as in push-daemon.ts
  const nodeArgs = (process.env.BENCH_DAEMON_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'daemon', '--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '', CONVSYNC_LOG_PRETTY: 'false' },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    for (let i = 0; i < 6000 && !/"url":"([^"]+)"/.test(stderr) && child.exitCode === null; i++) await sleep(10);
    const url = /"url":"([^"]+)"/.exec(stderr)?.[1];
    if (!url) throw new Error(`the daemon did not start: ${stderr.slice(-2000)}`);
    const sync = async () => {
      const t = performance.now();
      const res = await request(`${url}/sync?wait=true`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, reset: true });
      const body = (await res.body.json()) as { exitCode?: number; plan?: { summary?: unknown } };
      const s = seconds3(performance.now() - t);
      if (res.statusCode !== 200 || body.exitCode !== 0) throw new Error(`POST /sync answered ${res.statusCode}: ${JSON.stringify(body).slice(0, 500)}`);
      return s;
    };
    // the run the daemon starts with (a full plan: its configuration differs from the CLI's), then two with nothing changed
    const warmUp = [await sync(), await sync(), await sync()];
    const noop = await sync();
    const partialPlans = () => stderr.match(/"partial":\{"groups"/g)?.length ?? 0;
    const changes = [];
    for (let r = 0; r < opts.rounds; r++) {
      opts.change();
      const before = wire.writeCalls().length;
      const plans = partialPlans();
      const s = await sync();
      const writes = wire.writeCalls().slice(before);
      const window = writes.length === 0 ? 0 : seconds3(Math.max(...writes.map((c) => c.at)) - Math.min(...writes.map((c) => c.at)));
      changes.push({
        seconds: s,
        writes: writes.length,
        writesWindowSeconds: window,
        beyondWritesSeconds: seconds3((s - window) * 1000),
        // the run planned only the groups that changed (the daemon logged a partial plan)
        partialPlan: partialPlans() === plans + 1,
      });
    }
    return { warmUpSeconds: warmUp, noopSeconds: noop, changes };
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    }
  }
}
