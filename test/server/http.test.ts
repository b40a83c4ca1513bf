import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { createMetrics } from '../../src/metrics.js';
import { createHttpApp, listen, type DaemonControl } from '../../src/server/http.js';
import { Store } from '../../src/store/store.js';

const TOKEN = 'route-test-token';

/** the daemon's HTTP server in process, around a daemon whose every run fails as a broken store does */
async function serve(opts: { tokenFile?: boolean; store?: 'broken' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-http-'));
  writeFileSync(join(dir, 'sync-token'), `${TOKEN}\n`);
  const configFile = join(dir, 'convsync.yaml');
  writeFileSync(
    configFile,
    stringify({
      store: { path: join(dir, 'convsync.db') },
      sources: [{ name: 'corp', type: 'file', path: join(dir, 'directory.yaml') }],
      backend: { type: 'protocol', baseUrl: 'http://127.0.0.1:9/api', auth: { type: 'bearer', token: 'x' } },
      mappings: [{ match: { displayName: '.*' }, name: '{0}' }],
      server: { host: '127.0.0.1', port: 0, syncTokenFile: join(dir, 'sync-token') },
    }),
  );
  const config = loadConfig({ file: configFile, env: {} });
  const store = Store.open(config.store.path);
  const storeError = () => Promise.reject(new Error('SQLITE_IOERR: disk I/O error'));
  const daemon: DaemonControl = {
    status: {
      running: false,
      backendOk: false,
      lastResult: 'error',
      lastError: 'wire 403 invalid-credentials: secret-looking detail',
      lastErrorLabel: 'wire 403 invalid-credentials',
    },
    request: storeError,
    approve: storeError,
    syncAllowingRemovals: storeError,
  };
  const logged: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(line) });
  if (opts.store === 'broken') store.close();
  const { server, url } = await listen(createHttpApp({ config, store, daemon, metrics: createMetrics(), logger }), '127.0.0.1', 0);
  return {
    url,
    dir,
    server,
    logged,
    async close() {
      await new Promise((resolve) => server.close(resolve));
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function call(url: string, method: 'GET' | 'POST', token?: string) {
  const res = await request(url, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.body.text();
  return { status: res.statusCode, text };
}

describe('the daemon HTTP server when things break', () => {
  let s: Awaited<ReturnType<typeof serve>>;
  afterEach(async () => {
    await s?.close();
  });

  it('sets time limits for headers and requests', async () => {
    s = await serve();
    expect(s.server.headersTimeout).toBeGreaterThan(0);
    expect(s.server.requestTimeout).toBeGreaterThan(0);
    expect(s.server.requestTimeout).toBeLessThanOrEqual(120_000);
  });

  it('answers 5xx, never crashes, when a run fails on the store (POST /sync, /sync?allowRemovals, /approve)', async () => {
    s = await serve();
    for (const path of ['/sync?wait=true', '/sync?allowRemovals=true', '/approve/3']) {
      const res = await call(`${s.url}${path}`, 'POST', TOKEN);
      expect(res.status, path).toBe(500);
      expect(res.text).not.toContain('SQLITE');
    }
    expect(s.logged.join('')).toContain('SQLITE_IOERR');
    expect((await call(`${s.url}/healthz`, 'GET')).status).toBe(200);
  });

  it('answers 503 when the token file cannot be read, for every route that needs it, and says nothing of its content', async () => {
    s = await serve();
    rmSync(join(s.dir, 'sync-token'));
    for (const path of ['/sync', '/sync?wait=true', '/approve/1']) {
      for (const token of [undefined, TOKEN]) {
        const res = await call(`${s.url}${path}`, 'POST', token);
        expect(res.status, path).toBe(503);
        expect(JSON.parse(res.text)).toEqual({ error: 'the token file cannot be read (see the daemon log)' });
      }
    }
    // readiness works without the token, and then shows no error text
    const ready = await call(`${s.url}/readyz`, 'GET');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.text)).toMatchObject({ problems: ['the backend refused the credentials: wire 403 invalid-credentials', 'the last run error'] });
    expect(ready.text).not.toContain('secret-looking');
  });

  it('answers 400 naming the path, not the body, to a path with a malformed %-escape', async () => {
    s = await serve();
    const res = await call(`${s.url}/approve/%zz`, 'POST', TOKEN);
    expect([res.status, JSON.parse(res.text)]).toEqual([400, { error: 'the request path cannot be read (a malformed %-escape)' }]);
  });

  it('readiness shows the error text only to a caller with the token', async () => {
    s = await serve();
    expect((await call(`${s.url}/readyz`, 'GET')).text).not.toContain('secret-looking');
    expect((await call(`${s.url}/readyz`, 'GET', 'wrong')).text).not.toContain('secret-looking');
    expect((await call(`${s.url}/readyz`, 'GET', TOKEN)).text).toContain('secret-looking');
  });

  it('with the store closed: readiness says so (503), metrics and health still answer', async () => {
    s = await serve({ store: 'broken' });
    const ready = await call(`${s.url}/readyz`, 'GET');
    expect(ready.status).toBe(503);
    expect(ready.text).toContain('the store is not open');
    expect((await call(`${s.url}/metrics`, 'GET')).status).toBe(200);
    expect((await call(`${s.url}/healthz`, 'GET')).status).toBe(200);
    expect((await call(`${s.url}/sync?wait=true`, 'POST', TOKEN)).status).toBe(500);
  });
});
