import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort, startCli, startHarness, until, type Harness } from '../helpers/harness.js';

const UI_TOKEN = 'ui-token-for-the-problems-test';
const SYNC_TOKEN = 'sync-token-for-the-problems-test';

/** `convsync daemon` with the status page on a known port, after its start-up run */
async function startDaemon(h: Harness, overrides: Record<string, unknown> = {}) {
  const port = await freePort();
  writeFileSync(join(h.dir, 'ui-token'), `${UI_TOKEN}\n`);
  writeFileSync(join(h.dir, 'sync-token'), `${SYNC_TOKEN}\n`);
  h.writeConfig({
    schedule: '0 0 1 1 *',
    server: { host: '127.0.0.1', port, uiTokenFile: './ui-token', syncTokenFile: './sync-token' },
    log: { level: 'info' },
    ...overrides,
  });
  const proc = startCli(['daemon', '--config', h.configFile]);
  let stderr = '';
  proc.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await until(() => /"msg":"run finished"/.test(stderr), `the daemon's start-up run (${stderr})`, 20_000);
  return { ...proc, url: `http://127.0.0.1:${port}`, logs: () => stderr };
}

async function call(url: string, opts: { method?: 'GET' | 'POST'; cookie?: string; form?: Record<string, string>; token?: string } = {}) {
  const res = await request(url, {
    method: opts.method ?? 'GET',
    headers: {
      accept: 'text/html',
      ...(opts.cookie ? { cookie: opts.cookie } : {}),
      ...(opts.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
    },
    body: opts.form ? new URLSearchParams(opts.form).toString() : null,
  });
  return { status: res.statusCode, setCookie: ([] as string[]).concat(res.headers['set-cookie'] ?? []), text: await res.body.text() };
}

async function signIn(url: string): Promise<string> {
  const form = await call(`${url}/ui/login`);
  const loginCookie = form.setCookie.find((c) => c.startsWith('convsync_ui_login='))!.split(';')[0]!;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)![1]!;
  const out = await call(`${url}/ui/login`, { method: 'POST', cookie: loginCookie, form: { _csrf: csrf, token: UI_TOKEN, next: '/ui' } });
  return out.setCookie.find((c) => c.startsWith('convsync_ui='))!.split(';')[0]!;
}

describe('status page: the problems of a conversation', () => {
  let h: Harness | undefined;
  let d: Awaited<ReturnType<typeof startDaemon>> | undefined;
  afterEach(async () => {
    d?.child.kill('SIGTERM');
    if (d) await d.done;
    await h?.close();
    d = h = undefined;
  });

  it('still shows a conversation over the backend’s size limit after a run that found nothing changed', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 12, users: 12 });
    const backend = (parse(readFileSync(h.configFile, 'utf8')) as { backend: Record<string, unknown> }).backend;
    // Wire's maxConvSize below the group's size: the plan blocks the rest ("capacity"), every run
    d = await startDaemon(h, { backend: { ...backend, maxConversationSize: 6 } });
    const cookie = await signIn(d.url);
    const before = await call(`${d.url}/ui/conversations?q=eng`, { cookie });
    expect(before.text).toMatch(/over the backend&#39;s limit of 6 members/);

    // the next run: no source changed, nothing read or planned
    const again = await call(`${d.url}/sync?wait=true`, { method: 'POST', token: SYNC_TOKEN });
    expect(again.status).toBe(200);
    expect(JSON.parse(again.text)).toMatchObject({ plan: { warnings: [expect.stringMatching(/^unchanged since run 1/)] } });

    // the conversation is as far over the limit as before: the page must still say so
    const after = await call(`${d.url}/ui/conversations?q=eng`, { cookie });
    expect(after.text).toMatch(/over the backend&#39;s limit of 6 members/);
  }, 60_000);

  it('still shows a conversation over the size limit after a run that planned only another group, which changed', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 10, users: 20 });
    const backend = (parse(readFileSync(h.configFile, 'utf8')) as { backend: Record<string, unknown> }).backend;
    d = await startDaemon(h, { backend: { ...backend, maxConversationSize: 6 } });
    const cookie = await signIn(d.url);
    const overLimit = (text: string) => (text.match(/over the backend&#39;s limit of 6 members/g) ?? []).length;
    expect(overLimit((await call(`${d.url}/ui/conversations`, { cookie })).text)).toBe(2);

    // one member leaves the second group: the next run plans that group's conversation only
    const ops = h.directory.groups[1]!;
    h.scim.removeMember(ops.id, ops.members[0]!.value);
    const partial = await call(`${d.url}/sync?wait=true`, { method: 'POST', token: SYNC_TOKEN });
    const plan = (JSON.parse(partial.text) as { plan: { blocked: { op: { key: string } }[] } }).plan;
    expect(plan.blocked.map((b) => b.op.key)).toEqual([`group:corp:${ops.id}`]);

    // the first conversation is still over the limit
    expect(overLimit((await call(`${d.url}/ui/conversations`, { cookie })).text)).toBe(2);
  }, 60_000);
});
