import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { stringify } from 'yaml';
import { sampleDirectory } from '../../src/sandbox/directory.js';
import { WireSandbox } from '../../src/sandbox/wire/server.js';
import { CLI } from '../helpers/harness.js';

/**
 * From a SCIM PATCH accepted (204 received) to the Wire call that carries the change: the real
 * daemon (child process, default debounce) against the Wire sandbox with `wireLatencyMs` per call.
 */
export async function pushLatency(opts: { changes: number; intervalMs: number; groups: number; wireLatencyMs: number; debounceMs: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-bench-'));
  const directory = sampleDirectory({ groups: 0, membersPerGroup: 0, users: opts.changes + opts.groups * 5, seed: 5 });
  const wire = await WireSandbox.start({ faults: { latencyMs: opts.wireLatencyMs } });
  wire.addUser({ email: 'bot@example.com', password: 'bench-password' });
  for (const u of directory.users) wire.addUser({ id: u.externalId });
  writeFileSync(join(dir, 'pw'), 'bench-password');
  writeFileSync(join(dir, 'tok'), 'bench-token');
  writeFileSync(
    join(dir, 'convsync.yaml'),
    stringify({
      store: { path: './db.sqlite' },
      sources: [{ name: 'idp', type: 'scim-push', tokenFile: './tok' }],
      backend: { type: 'wire', baseUrl: wire.url, email: 'bot@example.com', passwordFile: './pw', teamId: wire.teamId },
      mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}' }],
      schedule: '0 0 1 1 *',
      server: { host: '127.0.0.1', port: 0 },
      daemon: { debounceMs: opts.debounceMs },
      log: { level: 'info' },
    }),
  );
  const child = spawn(process.execPath, [CLI, 'daemon', '--config', join(dir, 'convsync.yaml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    for (let i = 0; i < 500 && !/"url":"([^"]+)"/.test(stderr); i++) await sleep(10);
    const base = `${/"url":"([^"]+)"/.exec(stderr)![1]}/scim/v2`;
    const scim = async (method: 'POST' | 'PATCH', path: string, body: unknown) => {
      const res = await request(base + path, {
        method,
        headers: { authorization: 'Bearer bench-token', 'content-type': 'application/scim+json' },
        body: JSON.stringify(body),
      });
      const text = await res.body.text();
      if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${text}`);
      return text ? (JSON.parse(text) as { id: string }) : undefined;
    };
    const scimIds: string[] = [];
    for (const u of directory.users) {
      scimIds.push(
        (await scim('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: u.email, externalId: u.externalId, active: true }))!
          .id,
      );
    }
    const groupIds: string[] = [];
    for (let g = 0; g < opts.groups; g++) {
      const members = scimIds.slice(opts.changes + g * 5, opts.changes + g * 5 + 5).map((value) => ({ value }));
      groupIds.push((await scim('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: `team-${g}`, members }))!.id);
    }
    while (wire.conversations.size < opts.groups) await sleep(20);
    await sleep(opts.debounceMs + 500);

    // the measured changes: each adds one new user to one group, at a steady pace
    const accepted: { user: string; at: number }[] = [];
    for (let i = 0; i < opts.changes; i++) {
      const started = Date.now();
      await scim('PATCH', `/Groups/${groupIds[i % opts.groups]}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'Add', path: 'members', value: [{ value: scimIds[i] }] }],
      });
      accepted.push({ user: directory.users[i]!.externalId, at: Date.now() });
      await sleep(Math.max(0, opts.intervalMs - (Date.now() - started)));
    }
    const deadline = Date.now() + 60_000;
    const latencies: number[] = [];
    for (const a of accepted) {
      for (;;) {
        const call = wire.calls.find((c) => c.users?.includes(a.user) && c.status === 200);
        if (call) {
          latencies.push(call.at - a.at);
          break;
        }
        if (Date.now() > deadline) throw new Error(`change for ${a.user} never reached the backend`);
        await sleep(20);
      }
    }
    latencies.sort((x, y) => x - y);
    const pick = (q: number) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)]!;
    const addCalls = wire.calls.filter((c) => c.users && c.status === 200 && accepted.some((a) => c.users!.includes(a.user))).length;
    return { p50Ms: pick(0.5), p95Ms: pick(0.95), maxMs: latencies.at(-1)!, minMs: latencies[0]!, backendAddCalls: addCalls };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
    await wire.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
