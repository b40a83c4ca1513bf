import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { WireSandbox } from '../../src/sandbox/wire/server.js';
import { CLI } from '../helpers/harness.js';

export const PUSH_TOKEN = 'bench-token';

/** what one call cost, seen from the client */
export interface Answer {
  status: number;
  json: { totalResults?: number; id?: string; detail?: string } | undefined;
}

/**
 * The real daemon (`node dist/cli.js daemon`, a child process) with one SCIM push source over the
 * store file in `dir`, behind the Wire sandbox (here, idle: no mapping matches a pushed group, so
 * runs read the source and plan nothing). Extra node flags for the daemon (--cpu-prof, --trace-gc)
 * come from BENCH_DAEMON_NODE_ARGS.
 */
export async function startPushDaemon(dir: string) {
  const wire = await WireSandbox.start();
  wire.addUser({ email: 'bot@example.com', password: 'bench-password' });
  writeFileSync(join(dir, 'pw'), 'bench-password');
  writeFileSync(join(dir, 'tok'), PUSH_TOKEN);
  writeFileSync(
    join(dir, 'convsync.yaml'),
    stringify({
      store: { path: './db.sqlite' },
      sources: [{ name: 'idp', type: 'scim-push', tokenFile: './tok' }],
      backend: { type: 'wire', baseUrl: wire.url, email: 'bot@example.com', passwordFile: './pw', teamId: wire.teamId },
      mappings: [{ match: { displayName: '^never-pushed$' }, name: 'Never' }],
      schedule: '0 0 1 1 *',
      server: { host: '127.0.0.1', port: 0 },
      log: { level: 'info' },
    }),
  );
  const nodeArgs = (process.env.BENCH_DAEMON_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'daemon', '--config', join(dir, 'convsync.yaml')], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '', CONVSYNC_LOG_PRETTY: 'false' },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 3000 && !/"url":"([^"]+)"/.test(stderr) && child.exitCode === null; i++) await sleep(10);
  const url = /"url":"([^"]+)"/.exec(stderr)?.[1];
  if (!url) throw new Error(`the daemon did not start: ${stderr.slice(-2000)}`);
  // undici's default idle time (4 s) stays under the daemon's keep-alive (5 s): a reused socket is never one the daemon is closing
  const dispatcher = new Agent({ connections: 16, pipelining: 1 });

  const raw = async (method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<Answer> => {
    const res = await request(url + path, {
      method,
      dispatcher,
      headers: { authorization: `Bearer ${PUSH_TOKEN}`, 'content-type': 'application/scim+json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, json: text ? (JSON.parse(text) as Answer['json']) : undefined };
  };
  /** a SCIM call under /scim/v2 that must succeed */
  const scim = async (method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown) => {
    const a = await raw(method, `/scim/v2${path}`, body);
    if (a.status >= 300) throw new Error(`${method} ${path}: ${a.status} ${a.json?.detail ?? ''}`);
    return a.json ?? {};
  };
  /** the daemon's own figures from /metrics (a read resets the event-loop delay window) */
  const metrics = async () => {
    const res = await request(`${url}/metrics`, { reset: true });
    const out = new Map<string, number>();
    for (const line of (await res.body.text()).split('\n')) {
      const m = /^([a-z_]+(?:\{[^}]*\})?) ([-0-9.e+]+|NaN)$/.exec(line);
      if (m) out.set(m[1]!, Number(m[2]));
    }
    return out;
  };
  const status = async () =>
    (await (await request(`${url}/readyz`, { reset: true })).body.json()) as { running?: boolean; lastResult?: string; lastRunAt?: string };
  // polls during a run open a connection each: a kept-alive socket whose next request waits out a
  // block longer than the daemon's keep-alive (5 s) is reset by it (the timer runs before the read)
  /** no run going, and one at least finished after `after` (the run the daemon starts with reads the whole source) */
  const idle = async (after?: string) => {
    for (;;) {
      const r = await status();
      if (!r.running && r.lastResult && r.lastRunAt !== after) return r;
      await sleep(50);
    }
  };
  const stop = async () => {
    await dispatcher.close();
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    }
    await wire.stop();
  };
  return { url, raw, scim, metrics, status, idle, stop, pid: child.pid!, stderr: () => stderr };
}

export type PushDaemon = Awaited<ReturnType<typeof startPushDaemon>>;
