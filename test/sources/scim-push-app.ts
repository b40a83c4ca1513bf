import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { pino } from 'pino';
import { request } from 'undici';
import type { ScimPushSourceConfig } from '../../src/config/schema.js';
import { listen } from '../../src/server/http.js';
import { mountScimPush } from '../../src/server/scim-push.js';
import { Store } from '../../src/store/store.js';

export const TOKEN = 'push-test-token';
export const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
export const SOURCE = 'idp';
export const BASE = '/scim/v2';

export interface PushApp {
  /** the source's SCIM base URL */
  url: string;
  /** the same routes and store on a server that leaves every request to Express */
  expressUrl: string;
  /** the store's SQLite file */
  storePath: string;
  /** the file the bearer token is read from */
  tokenFile: string;
  store: Store;
  /** the group keys each accepted change reported, in order */
  changes: string[][];
  /** each request the routes counted: method and status */
  requests: string[];
  /** the lines the routes logged */
  logs: string[];
  scim(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    body?: unknown,
    authorization?: string | null,
  ): Promise<{ status: number; json: any }>;
  close(): Promise<void>;
}

/**
 * The SCIM push routes of the daemon (`mountScimPush`) on a loopback HTTP server, over a real
 * SQLite file: what the daemon serves, without its schedule and backend.
 */
export async function startPushApp(): Promise<PushApp> {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-push-'));
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  const store = Store.open(join(dir, 'store.sqlite'));
  const source = { name: SOURCE, type: 'scim-push', path: BASE, tokenFile: join(dir, 'token') } as ScimPushSourceConfig;
  const changes: string[][] = [];
  const requests: string[] = [];
  const logs: string[] = [];
  const app = express();
  const lookups = mountScimPush(app, {
    sources: [source],
    store,
    logger: pino({ level: 'warn' }, { write: (line: string) => logs.push(line) }),
    maxBodyBytes: 1_048_576,
    onChange: (keys) => changes.push(keys),
    onRequest: (method, status) => requests.push(`${method} ${status}`),
  });
  const { server, url: base } = await listen(app, '127.0.0.1', 0, lookups);
  const plain = await listen(app, '127.0.0.1', 0);
  const url = base + BASE;
  return {
    url,
    expressUrl: plain.url + BASE,
    storePath: join(dir, 'store.sqlite'),
    tokenFile: source.tokenFile!,
    store,
    changes,
    requests,
    logs,
    async scim(method, path, body, authorization = `Bearer ${TOKEN}`) {
      const res = await request(url + path, {
        method,
        headers: { 'content-type': 'application/scim+json', ...(authorization ? { authorization } : {}) },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await res.body.text();
      return { status: res.statusCode, json: text ? JSON.parse(text) : undefined };
    },
    async close() {
      for (const s of [server, plain.server]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const q = (filter: string, extra = '') => `filter=${encodeURIComponent(filter)}${extra}`;
