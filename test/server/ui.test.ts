import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { createMetrics } from '../../src/metrics.js';
import { createHttpApp, listen } from '../../src/server/http.js';
import type { StatusPageControl } from '../../src/server/ui/control.js';
import { html } from '../../src/server/ui/html.js';
import { mountUi } from '../../src/server/ui/index.js';
import { LoginLimiter, Sessions } from '../../src/server/ui/session.js';
import { Store } from '../../src/store/store.js';

const TOKEN = 'status-page-token';

/** the daemon's HTTP server with the status page, around a daemon that records what it is asked */
async function serve(server: Record<string, unknown>, prepare: (store: Store) => void = () => undefined) {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-ui-'));
  writeFileSync(join(dir, 'ui-token'), `${TOKEN}\n`);
  writeFileSync(join(dir, 'empty-token'), '\n');
  const configFile = join(dir, 'convsync.yaml');
  writeFileSync(
    configFile,
    stringify({
      store: { path: join(dir, 'convsync.db') },
      sources: [{ name: 'corp', type: 'file', path: join(dir, 'directory.yaml') }],
      backend: { type: 'protocol', baseUrl: 'http://127.0.0.1:9/api', auth: { type: 'bearer', token: 'x' } },
      mappings: [{ match: { displayName: '.*' }, name: '{0}' }],
      server: { host: '127.0.0.1', port: 0, ...server },
    }),
  );
  const config = loadConfig({ file: configFile, env: {}, set: [], checkSecretFiles: false });
  const store = Store.open(config.store.path);
  prepare(store);
  const asked: string[] = [];
  const daemon: StatusPageControl = {
    status: { running: false, backendOk: true },
    request: async (_scope, reason) => void asked.push(`sync ${reason}`),
    approve: () => Promise.reject(new Error('not in this test')),
    syncAllowingRemovals: () => Promise.reject(new Error('not in this test')),
    live: () => undefined,
    watch: () => () => undefined,
    nextRunAt: () => undefined,
    backendId: () => 'protocol',
    explain: async () => undefined,
  };
  const logged: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(line) });
  const app = createHttpApp({ config, store, daemon, metrics: createMetrics(), logger, mount: (e) => mountUi(e, { config, store, daemon, logger }) });
  const { server: http, url } = await listen(app, '127.0.0.1', 0);
  return {
    url,
    asked,
    logged,
    async close() {
      await new Promise((resolve) => http.close(resolve));
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** a form POST with cookies, as a browser sends it */
async function post(url: string, form: Record<string, string>, cookies: string[] = []) {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookies.join('; ') },
    body: new URLSearchParams(form).toString(),
  });
  return {
    status: res.statusCode,
    location: res.headers.location as string | undefined,
    setCookie: ([] as string[]).concat(res.headers['set-cookie'] ?? []),
    text: await res.body.text(),
  };
}

async function get(url: string, cookies: string[] = []) {
  const res = await request(url, { headers: { accept: 'text/html', cookie: cookies.join('; ') } });
  return {
    status: res.statusCode,
    location: res.headers.location as string | undefined,
    setCookie: ([] as string[]).concat(res.headers['set-cookie'] ?? []),
    text: await res.body.text(),
  };
}

const pair = (setCookie: string[], name: string) => setCookie.find((c) => c.startsWith(`${name}=`))!.split(';')[0]!;

/** the sign-in form's value and cookie, then a sign-in; returns the session cookie and the page's CSRF token */
async function signIn(url: string, token: string, next?: string) {
  const form = await get(`${url}/ui/login`);
  const loginCookie = pair(form.setCookie, 'convsync_ui_login');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)![1]!;
  return post(`${url}/ui/login`, { _csrf: csrf, token, next: next ?? '/ui' }, [loginCookie]);
}

describe('status page routes', () => {
  let s: Awaited<ReturnType<typeof serve>> | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('is disabled, saying what to set, without any token configured', async () => {
    s = await serve({});
    const res = await get(`${s.url}/ui`);
    expect(res.status).toBe(404);
    expect(res.text).toMatch(/set server.uiTokenFile \(or server.syncTokenFile\)/);
  });

  it('signs in with the token for a session cookie, redirects only within the page, and needs the CSRF token on each POST', async () => {
    s = await serve({ uiTokenFile: './ui-token', syncToken: 'the-sync-token' });
    // the sync token does not sign in when a page token is set
    expect((await signIn(s.url, 'the-sync-token')).status).toBe(401);
    const out = await signIn(s.url, TOKEN, '//evil.example/ui');
    expect(out.status).toBe(303);
    expect(out.location).toBe('/ui');
    const session = out.setCookie.find((c) => c.startsWith('convsync_ui='))!;
    expect(session).toMatch(/; Path=\/ui; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    const cookie = session.split(';')[0]!;
    const overview = await get(`${s.url}/ui`, [cookie]);
    expect(overview.status).toBe(200);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(overview.text)![1]!;

    expect((await post(`${s.url}/ui/sync`, {}, [cookie])).status).toBe(403);
    expect((await post(`${s.url}/ui/sync`, { _csrf: `${csrf}x` }, [cookie])).status).toBe(403);
    expect(s.asked).toEqual([]);
    const sync = await post(`${s.url}/ui/sync`, { _csrf: csrf }, [cookie]);
    expect(sync).toMatchObject({ status: 303, location: '/ui' });
    expect(s.asked).toEqual(['sync page']);

    const logout = await post(`${s.url}/ui/logout`, { _csrf: csrf }, [cookie]);
    expect(logout.status).toBe(303);
    expect((await get(`${s.url}/ui`, [cookie])).status).toBe(303);
    expect(s.logged.join('\n')).not.toContain(TOKEN);
  });

  it('refuses a sign-in without the form’s own cookie, and one against an empty token file', async () => {
    s = await serve({ uiTokenFile: './empty-token' });
    const noCookie = await post(`${s.url}/ui/login`, { _csrf: 'x', token: '' });
    expect(noCookie.status).toBe(403);
    const empty = await signIn(s.url, '');
    expect(empty.status).toBe(503);
    expect(empty.text).toMatch(/token file cannot be read/);
  });

  it('falls back to the sync token', async () => {
    s = await serve({ syncTokenFile: './ui-token' });
    expect((await signIn(s.url, TOKEN)).status).toBe(303);
  });
});

describe('status page live view', () => {
  it('answers HEAD /ui/events at once, holding none of the streams open', async () => {
    const s = await serve({ uiTokenFile: './ui-token' });
    try {
      const cookie = pair((await signIn(s.url, TOKEN)).setCookie, 'convsync_ui');
      // a client that keeps its connection open after the answer, as a keep-alive client does
      const host = new URL(s.url);
      const sockets = await Promise.all(
        Array.from({ length: 25 }, async () => {
          const socket = connect(Number(host.port), host.hostname);
          socket.write(`HEAD /ui/events HTTP/1.1\r\nHost: ${host.host}\r\nCookie: ${cookie}\r\nConnection: keep-alive\r\n\r\n`);
          const head = await new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
          expect(head).toMatch(/^HTTP\/1\.1 200/);
          return socket;
        }),
      );
      const ac = new AbortController();
      const live = await request(`${s.url}/ui/events`, { headers: { cookie }, signal: ac.signal });
      expect(live.statusCode).toBe(200);
      ac.abort();
      await live.body.dump().catch(() => undefined);
      for (const socket of sockets) socket.destroy();
    } finally {
      await s.close();
    }
  });
});

describe('status page pieces', () => {
  it('escapes every value put into a template, and nothing already escaped twice', () => {
    const name = `<script>alert("x")</script>&'`;
    const inner = html`<b>${name}</b>`;
    expect(html`<p title="${name}">${inner}${[name, undefined, false, null]}</p>`.text).toBe(
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"><b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</p>',
    );
  });

  it('ends sessions unused for too long or too old, and keeps at most so many', () => {
    let now = 0;
    const sessions = new Sessions({ idleMs: 100, maxAgeMs: 250, max: 2, now: () => now });
    const a = sessions.create();
    expect(a.id).not.toBe(a.csrf);
    now = 90;
    expect(sessions.get(a.id)).toBe(a);
    now = 180;
    expect(sessions.get(a.id)).toBe(a);
    now = 260;
    expect(sessions.get(a.id)).toBeUndefined();
    const b = sessions.create();
    const c = sessions.create();
    const d = sessions.create();
    expect([sessions.get(b.id), sessions.get(c.id), sessions.get(d.id)]).toEqual([undefined, c, d]);
    now = 400;
    expect(sessions.get(c.id)).toBeUndefined();
  });

  it('limits failed sign-ins per client and in all, for a window, and never locks out a client with no failure', () => {
    let now = 0;
    const limiter = new LoginLimiter({ perClient: 2, total: 3, windowMs: 1000, now: () => now });
    limiter.failed('a');
    expect(limiter.waitSeconds('a')).toBe(0);
    limiter.failed('a');
    expect(limiter.waitSeconds('a')).toBe(1);
    expect(limiter.waitSeconds('b')).toBe(0);
    limiter.failed('b');
    // over the overall limit: a client that failed waits, one that has not (the operator) does not
    expect(limiter.waitSeconds('b')).toBe(1);
    expect(limiter.waitSeconds('c')).toBe(0);
    now = 1001;
    expect([limiter.waitSeconds('a'), limiter.waitSeconds('c')]).toEqual([0, 0]);
  });
});

/** a binding made by a journaled create, as a run leaves it */
function bind(store: Store, runId: number, key: string, name: string, conversationId: string) {
  const op = { op: 'create' as const, key, name, members: ['u1'], groups: [`corp:${key}`], onGroupRemoved: 'keep' as const, reason: 'r' };
  store.journal.done(store.journal.pending(runId, op), {
    kind: 'created',
    key,
    conversationId,
    name,
    ownerId: 'convsync',
    backend: 'wire',
    members: ['u1'],
    external: [],
    groups: [`corp:${key}`],
    onGroupRemoved: 'keep',
  });
}

describe('status page: problems shown by conversation', () => {
  let s: Awaited<ReturnType<typeof serve>> | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('keeps showing removals held back for approval after a full run that failed before it planned', async () => {
    s = await serve({ uiTokenFile: './ui-token' }, (store) => {
      const first = store.runs.start('sync');
      bind(store, first, 'k1', 'Team one', 'c1');
      store.runs.finish(first, { result: 'ok', exitCode: 0, summary: { plan: { quarantined: false } } });
      const held = store.runs.start('sync');
      store.runs.finish(held, {
        result: 'quarantined',
        exitCode: 3,
        summary: { plan: { quarantined: true } },
        plan: {
          ops: [],
          blocked: [
            {
              kind: 'guard',
              why: 'held back by guards: 6 removals exceed maxRemovalsPerRun 5',
              op: { op: 'remove', key: 'k1', name: 'Team one', conversationId: 'c1', members: ['u1'], reason: 'r' },
            },
          ],
          warnings: ['guards tripped: 6 removals exceed maxRemovalsPerRun 5'],
          summary: { quarantined: true },
        },
      });
      store.guards.recordHeld(held, [{ op: 'remove', key: 'k1' }], { full: true });
      // the backend was down for the next run: it ended in an error, with no plan
      const failed = store.runs.start('sync');
      store.runs.finish(failed, { result: 'error', exitCode: 1, summary: null, error: 'wire 503: unavailable' });
    });
    const cookie = pair((await signIn(s.url, TOKEN)).setCookie, 'convsync_ui');
    // the held page still offers run 2 for approval ...
    expect((await get(`${s.url}/ui/held`, [cookie])).text).toContain('Approve run #2');
    // ... and the conversation's problems say so too
    expect((await get(`${s.url}/ui/conversations`, [cookie])).text).toContain('remove: held back by guards');
  });
});
