import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { Store } from '../../src/store/store.js';
import type { RunRow } from '../../src/store/runs.js';
import { startCli, until, type Harness } from './harness.js';

export const TOKEN = 'entra-secret-token';
export const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

export interface Daemon {
  url: string;
  stop(): Promise<number | null>;
}

/** `convsync daemon` with a SCIM push source, once its start-up run is over */
export async function startDaemon(h: Harness, extra: Record<string, unknown> = {}): Promise<Daemon> {
  writeFileSync(join(h.dir, 'push-token'), `${TOKEN}\n`);
  h.writeConfig({
    sources: [{ name: 'idp', type: 'scim-push', tokenFile: './push-token' }],
    schedule: '0 0 1 1 *',
    server: { host: '127.0.0.1', port: 0, maxBodyBytes: 8192 },
    daemon: { debounceMs: 50 },
    guards: { maxRemovalsPerRun: 100, maxRemovalRatio: 1, protect: [] },
    log: { level: 'info' },
    ...extra,
  });
  const proc = startCli(['daemon', '--config', h.configFile]);
  let stderr = '';
  proc.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 400 && !/"url":"([^"]+)"/.test(stderr); i++) await sleep(10);
  const url = /"url":"([^"]+)"/.exec(stderr)?.[1];
  if (!url) {
    proc.child.kill('SIGKILL');
    throw new Error(`daemon did not start: ${stderr}`);
  }
  // the start-up run first, so that what the test pushes is reconciled by the push path
  for (let i = 0; i < 500; i++) {
    const ready = await request(`${url}/readyz`);
    if ((JSON.parse(await ready.body.text()) as { lastResult?: string }).lastResult) break;
    await sleep(10);
  }
  return {
    url,
    async stop() {
      proc.child.kill('SIGTERM');
      return (await proc.done).code;
    },
  };
}

/** a SCIM request to the daemon's push routes */
export async function scim(d: Daemon, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, auth: string | null = TOKEN) {
  const res = await request(`${d.url}/scim/v2${path}`, {
    method,
    headers: { 'content-type': 'application/scim+json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: (text ? JSON.parse(text) : undefined) as Record<string, any> };
}

/** the newest run the daemon recorded, read from its store */
export function lastRun(h: Harness): RunRow {
  const s = Store.open(join(h.dir, 'convsync.db'));
  try {
    return s.runs.recent(1)[0]!;
  } finally {
    s.close();
  }
}

/** a push, then the daemon's run after it (finished) */
export async function afterPush(h: Harness, send: () => Promise<unknown>): Promise<RunRow> {
  const before = lastRun(h).id;
  await send();
  await until(() => lastRun(h).id > before && lastRun(h).finishedAt !== null, 'the run after a push');
  await sleep(20);
  return lastRun(h);
}
