import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startCli, startHarness, until, wireState, type Harness } from '../helpers/harness.js';

const SYNC_TOKEN = 'harness-sync-token';

/** `convsync daemon` on a known port (the CLI finds it through server.port), after its start-up run */
async function startDaemon(h: Harness, server: Record<string, unknown>) {
  const port = await freePort();
  h.writeConfig({
    schedule: '0 0 1 1 *',
    server: { host: '127.0.0.1', port, ...server },
    guards: { maxRemovalsPerRun: 5, maxRemovalRatio: 1, protect: [] },
    log: { level: 'info' },
  });
  const proc = startCli(['daemon', '--config', h.configFile]);
  let stderr = '';
  proc.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 500 && !/"msg":"run finished"/.test(stderr); i++) await sleep(10);
  if (!/"msg":"run finished"/.test(stderr)) {
    proc.child.kill('SIGKILL');
    throw new Error(`the daemon did not finish its start-up run: ${stderr}`);
  }
  return { ...proc, url, logs: () => stderr };
}

async function post(url: string, token?: string) {
  const res = await request(url, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.statusCode, json: JSON.parse(await res.body.text()) as Record<string, unknown> };
}

describe('approve while the daemon runs', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('convsync approve RUN and sync --allow-removals go through the running daemon, with the semantics of the one-shot commands', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 12, users: 12 });
    writeFileSync(join(h.dir, 'sync-token'), `${SYNC_TOKEN}\n`);
    const d = await startDaemon(h, { syncTokenFile: './sync-token' });
    expect(wireState(h.wire, h.botId).get('Team eng')).toHaveLength(12);

    // six leave, one more than maxRemovalsPerRun: the daemon's run holds the removals back
    const g = h.directory.groups[0]!;
    for (const m of g.members.slice(0, 6)) h.scim.removeMember(g.id, m.value);
    const held = await post(`${d.url}/sync?wait=true`, SYNC_TOKEN);
    expect(held.status).toBe(200);
    expect(held.json).toMatchObject({ exitCode: 3 });
    const heldRun = held.json.runId as number;
    expect(wireState(h.wire, h.botId).get('Team eng')).toHaveLength(12);

    // the routes check the token and the run number before anything else
    expect((await post(`${d.url}/approve/${heldRun}`)).status).toBe(401);
    expect((await post(`${d.url}/approve/${heldRun}`, 'wrong')).status).toBe(401);
    expect((await post(`${d.url}/approve/first`, SYNC_TOKEN)).status).toBe(400);
    // a run's number is digits: 1e1 is no way to write run 10
    expect((await post(`${d.url}/approve/${heldRun}e0`, SYNC_TOKEN)).status).toBe(400);

    // a plain one-shot sync is still refused: one writer
    const oneShot = await h.cli(['sync']);
    expect(oneShot.code).toBe(1);
    expect(oneShot.stderr).toMatch(/only one writer is allowed/);

    // one is back in the group before the approval: only the other five go, as with the one-shot approve
    h.scim.addMember(g.id, g.members[0]!.value);
    const approved = await h.cli(['approve', String(heldRun)]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stderr).toMatch(/a daemon holds the writer lease: the approval is made by it/);
    expect(approved.stdout).toMatch(new RegExp(`Approved run ${heldRun}: 5 held-back removal\\(s\\) released, 1 no longer apply`));
    expect(wireState(h.wire, h.botId).get('Team eng')).toHaveLength(7);
    expect((await h.cli(['approve', '99'])).stderr).toMatch(/refused: run 99 has no plan recorded/);
    // approved once: a second approval (a retried script, a second click) releases nothing
    const again = await post(`${d.url}/approve/${heldRun}`, SYNC_TOKEN);
    expect(again).toMatchObject({ status: 409, json: { error: expect.stringMatching(new RegExp(`^run ${heldRun} was approved already, by run \\d+$`)) } });
    // where the daemon is may carry user info: no error repeats it
    writeFileSync(join(h.dir, 'other-token'), 'not-the-daemons\n');
    const wrongToken = await h.cli([
      'approve',
      String(heldRun),
      '--daemon',
      d.url.replace('//', '//ops:pw-S3cret@'),
      '--set',
      'server.syncTokenFile=./other-token',
    ]);
    expect(wrongToken.stderr).toMatch(/refused the token/);
    expect(wrongToken.stderr).not.toMatch(/S3cret/);

    // held again; released this time by sync --allow-removals through the daemon
    for (const m of g.members.slice(0, 1).concat(g.members.slice(6, 11))) h.scim.removeMember(g.id, m.value);
    expect((await post(`${d.url}/sync?wait=true`, SYNC_TOKEN)).json).toMatchObject({ exitCode: 3 });
    const released = await h.cli(['sync', '--allow-removals']);
    expect(released.code, released.stderr).toBe(0);
    expect(released.stdout).toMatch(/remove/);
    await until(() => wireState(h.wire, h.botId).get('Team eng')!.length === 1, 'the held removals released');

    // the daemon served throughout and still holds the lease
    expect((await request(`${d.url}/healthz`)).statusCode).toBe(200);
    d.child.kill('SIGTERM');
    expect((await d.done).code).toBe(0);
  });

  it('an approval queued behind a full run that holds the same removals again still goes through', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 12, users: 14 });
    writeFileSync(join(h.dir, 'sync-token'), `${SYNC_TOKEN}\n`);
    const d = await startDaemon(h, { syncTokenFile: './sync-token' });
    const g = h.directory.groups[0]!;
    for (const m of g.members.slice(0, 6)) h.scim.removeMember(g.id, m.value);
    const held = await post(`${d.url}/sync?wait=true`, SYNC_TOKEN);
    expect(held.json).toMatchObject({ exitCode: 3 });
    // the daemon's next full run (slowed by an add) starts before the approval and holds the six again
    const newcomer = h.directory.users.find((u) => !g.members.some((m) => m.value === u.id))!;
    h.scim.addMember(g.id, newcomer.id);
    h.wire.loseResponses({ method: 'POST', path: /^\/v\d+\/conversations\/[^/]+\/[^/]+\/members$/, as: 'slow', delayMs: 1500 });
    void post(`${d.url}/sync`, SYNC_TOKEN);
    await sleep(300);
    const approved = await post(`${d.url}/approve/${held.json.runId as number}`, SYNC_TOKEN);
    expect(approved.status, JSON.stringify(approved.json)).toBe(200);
    expect(approved.json).toMatchObject({ released: 6 });
    expect(wireState(h.wire, h.botId).get('Team eng')).toHaveLength(7);
    d.child.kill('SIGTERM');
    expect((await d.done).code).toBe(0);
  });

  it('without a sync token, approve says what to configure instead of waiting for the daemon', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 2 });
    const d = await startDaemon(h, {});
    const approved = await h.cli(['approve', '1']);
    expect(approved.code).toBe(1);
    expect(approved.stderr).toMatch(
      /the daemon \(pid \d+ on .+\) holds the writer lease; to send this command to it, configure server.syncToken or server.syncTokenFile/,
    );
    expect((await post(`${d.url}/approve/1`, 'anything')).status).toBe(404);
    d.child.kill('SIGTERM');
    expect((await d.done).code).toBe(0);
  });
});
