import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { freePort, startCli, until, type Harness } from './harness.js';

export const UI_TOKEN = 'ui-token-for-the-problems-test';
export const SYNC_TOKEN = 'sync-token-for-the-problems-test';

/** `convsync daemon` with the status page on a known port, after its start-up run */
export async function startDaemon(h: Harness, overrides: Record<string, unknown> = {}) {
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

export async function call(url: string, opts: { method?: 'GET' | 'POST'; cookie?: string; form?: Record<string, string>; token?: string } = {}) {
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

export async function signIn(url: string): Promise<string> {
  const form = await call(`${url}/ui/login`);
  const loginCookie = form.setCookie.find((c) => c.startsWith('convsync_ui_login='))!.split(';')[0]!;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)![1]!;
  const out = await call(`${url}/ui/login`, { method: 'POST', cookie: loginCookie, form: { _csrf: csrf, token: UI_TOKEN, next: '/ui' } });
  return out.setCookie.find((c) => c.startsWith('convsync_ui='))!.split(';')[0]!;
}
