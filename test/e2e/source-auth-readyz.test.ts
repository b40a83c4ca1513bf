import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterEach, expect, it } from 'vitest';
import { startCli, startHarness, until, type Harness } from '../helpers/harness.js';

// a run that fails because a SOURCE (the SCIM directory) refused its token is reported by the
// daemon as the chat BACKEND refusing its credentials (/readyz backendOk false, "the backend refused
// the credentials"), sending the operator to rotate the wrong secret.

let h: Harness;
afterEach(async () => {
  await h?.close();
});

async function get(url: string) {
  const res = await request(url);
  return { status: res.statusCode, text: await res.body.text() };
}

it('a source that refuses its token is not reported as the backend refusing the credentials', async () => {
  h = await startHarness({ groups: 1, membersPerGroup: 1 });
  writeFileSync(join(h.dir, 'scim-token'), 'not-the-scim-token\n');
  h.writeConfig({ schedule: '0 0 1 1 *', server: { host: '127.0.0.1', port: 0 }, log: { level: 'info' } });
  const proc = startCli(['daemon', '--config', h.configFile]);
  let stderr = '';
  proc.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 400 && !/"url":"([^"]+)"/.test(stderr); i++) await sleep(10);
  const url = /"url":"([^"]+)"/.exec(stderr)![1]!;
  try {
    await until(async () => (await get(`${url}/readyz`)).status === 503, 'not ready');
    const ready = JSON.parse((await get(`${url}/readyz`)).text) as { problems: string[]; backendOk: boolean; lastErrorLabel?: string };
    // the run failed on the source: the backend (Wire) accepted the daemon's credentials
    expect(h.wire.logins.length).toBeGreaterThan(0);
    expect(ready.problems.join(' | ')).not.toMatch(/the backend refused the credentials/);
    expect(ready.backendOk).toBe(true);
  } finally {
    proc.child.kill('SIGTERM');
    await proc.done;
  }
});
