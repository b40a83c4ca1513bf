import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { pino } from 'pino';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { ScimPushSourceConfig } from '../../src/config/schema.js';
import { listen } from '../../src/server/http.js';
import { mountScimPush } from '../../src/server/scim-push.js';
import { Store } from '../../src/store/store.js';
import { GROUP, USER } from './scim-push-app.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** the daemon's SCIM push routes for source `idp` served at `path`, over the store file in `dir` (one daemon start) */
async function serve(dir: string, path: string) {
  const store = Store.open(join(dir, 'store.sqlite'));
  const source = { name: 'idp', type: 'scim-push', path, tokenFile: join(dir, 'token') } as ScimPushSourceConfig;
  const app = express();
  const fast = mountScimPush(app, { sources: [source], store, logger: pino({ level: 'silent' }), maxBodyBytes: 1_048_576, onChange: () => undefined });
  const { server, url } = await listen(app, '127.0.0.1', 0, fast);
  return {
    async scim(method: 'GET' | 'POST', p: string, body?: unknown) {
      const res = await request(`${url}${path}${p}`, {
        method,
        headers: { 'content-type': 'application/scim+json', authorization: 'Bearer t' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return (await res.body.json()) as any;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      store.close();
    },
  };
}

describe('SCIM push: a source moved to another path', () => {
  it('answers meta.location under the path it is served at now, not the one its resources were written under', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convsync-scim-push-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'token'), 't');
    // first served at the default path, then moved (e.g. to make room for a second push source)
    const before = await serve(dir, '/scim/v2');
    const user = await before.scim('POST', '/Users', { schemas: [USER], userName: 'a@example.com' });
    const group = await before.scim('POST', '/Groups', { schemas: [GROUP], displayName: 'g', members: [{ value: user.id }] });
    await before.close();

    const after = await serve(dir, '/scim/entra');
    expect((await after.scim('GET', `/Users/${user.id}`)).meta.location).toBe(`/scim/entra/Users/${user.id}`);
    expect((await after.scim('GET', `/Groups/${group.id}?excludedAttributes=members`)).meta.location).toBe(`/scim/entra/Groups/${group.id}`);
    expect((await after.scim('GET', '/Users')).Resources[0].meta.location).toBe(`/scim/entra/Users/${user.id}`);
    await after.close();
  });
});
