import Database from 'better-sqlite3';
import express from 'express';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ScimPushSourceConfig } from '../../src/config/schema.js';
import { mountScimPush } from '../../src/server/scim-push.js';
import { warmUpLookups } from '../../src/server/scim-warm-up.js';
import type { ListParams } from '../../src/sources/scim-push/list.js';
import { scimPushProvider, type ScimSourceProvider } from '../../src/sources/scim-push/provider.js';
import { Store } from '../../src/store/store.js';
import { BUSY_TIMEOUT_MS } from '../../src/store/write-ahead-log.js';

const SOURCE = { name: 'idp', path: '/scim/v2' };
const parseQuery = express().get('query parser fn') as (text: string) => ListParams;

/** a log that keeps what it was told */
function recordingLogger() {
  const lines: { msg: string; err?: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** the provider, with every look-up asked of it and what it answered (a status, or the error thrown) */
function recorded(provider: ScimSourceProvider) {
  const asked: { what: string; answer: string }[] = [];
  const record = (what: string, fn: () => { status: number; body?: unknown }) => {
    try {
      const out = fn();
      const list = typeof out.body === 'string' ? (JSON.parse(out.body) as { totalResults?: number }) : {};
      asked.push({ what, answer: `${out.status}${list.totalResults === undefined ? '' : ` ${list.totalResults}`}` });
      return out;
    } catch (e) {
      asked.push({ what, answer: (e as Error).message });
      throw e;
    }
  };
  const wrapped: ScimSourceProvider = {
    ...provider,
    list: (kind, query) => record(`${kind} ${JSON.stringify(query)}`, () => provider.list(kind, query)),
    read: (kind, id, query) => record(`${kind} ${id}`, () => provider.read(kind, id, query)),
  };
  return { wrapped, asked };
}

function storeWithDirectory() {
  const path = join(mkdtempSync(join(tmpdir(), 'convsync-warm-up-')), 'store.sqlite');
  const store = Store.open(path);
  const now = new Date().toISOString();
  const resource = { userName: 'ann@example.com', externalId: 'ext-ann', emails: [{ type: 'work', value: 'ann@corp.example' }] };
  store.push.putUser('idp', { id: 'u-ann', userName: resource.userName, externalId: 'ext-ann', active: true, resource }, now);
  store.push.putUser('idp', { id: 'u-bob', userName: 'bob@example.com', active: true, resource: { userName: 'bob@example.com' } }, now);
  store.push.putGroup('idp', { id: 'g-team', displayName: 'team a', externalId: 'gx-1' }, now);
  store.push.addMembers('idp', 'g-team', ['u-ann']);
  return { store, path };
}

describe('the SCIM look-ups asked before the daemon listens', () => {
  it('asks each kind of look-up the IdPs send, with the values of the first user and group stored, and finds them', () => {
    const { store } = storeWithDirectory();
    const { wrapped, asked } = recorded(scimPushProvider.open(store, SOURCE, () => {}));
    const { logger, lines } = recordingLogger();
    warmUpLookups(wrapped, parseQuery, logger, 'idp');
    const found = (what: RegExp) => asked.filter((a) => what.test(a.what)).map((a) => a.answer);
    expect(found(/^User .*userName eq \\"ann@example.com\\"/)).toEqual(['200 1']);
    expect(found(/^User .*userName eq \\"convsync-warm-up/)).toEqual(['200 0']);
    expect(found(/^User .*externalId eq \\"ext-ann\\"/)).toEqual(['200 1']);
    expect(found(/^User .*id eq \\"u-ann\\"/)).toEqual(['200 1']);
    expect(found(/^User .*emails\[type eq \\"work\\"\]\.value eq \\"ann@corp.example\\"/)).toEqual(['200 1']);
    expect(found(/^User u-ann$/)).toEqual(['200']);
    expect(found(/^Group .*displayName eq \\"team a\\"/)).toEqual(['200 1']);
    expect(found(/^Group .*externalId eq \\"gx-1\\"/)).toEqual(['200 1']);
    expect(found(/^Group .*id eq \\"g-team\\" and members eq \\"u-ann\\"/)).toEqual(['200 1']);
    expect(found(/^Group .*id eq \\"g-team\\" and members\[value eq \\"u-ann\\"\]/)).toEqual(['200 1']);
    expect(found(/^Group g-team$/)).toEqual(['200']);
    expect(asked).toHaveLength(13);
    expect(lines).toEqual([]);
    store.close();
  });

  it('writes nothing to the store but the answers of the first user and group, as any read of them does', () => {
    const { store, path } = storeWithDirectory();
    const other = new Database(path, { readonly: true });
    const tables = (other.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'push_rendered'`).pluck().all() as string[]).sort();
    const dump = () => tables.map((t) => other.prepare(`SELECT * FROM "${t}"`).all());
    const before = dump();
    warmUpLookups(
      scimPushProvider.open(store, SOURCE, () => {}),
      parseQuery,
      pino({ level: 'silent' }),
      'idp',
    );
    expect(dump()).toEqual(before);
    expect(other.prepare('SELECT kind, id FROM push_rendered ORDER BY kind').all()).toEqual([
      { kind: 'Group', id: 'g-team' },
      { kind: 'User', id: 'u-ann' },
    ]);
    other.close();
    store.close();
  });

  it('asks of an empty store for no one, and only logs (at debug) what is not a SCIM answer', () => {
    const store = Store.open(join(mkdtempSync(join(tmpdir(), 'convsync-warm-up-')), 'store.sqlite'));
    const { wrapped, asked } = recorded(scimPushProvider.open(store, SOURCE, () => {}));
    const { logger, lines } = recordingLogger();
    warmUpLookups(wrapped, parseQuery, logger, 'idp');
    expect(asked.filter((a) => /^(User|Group) \{/.test(a.what)).every((a) => a.answer === '200 0')).toBe(true);
    // a read of no one is answered 404, which is no fault
    expect(asked.filter((a) => /^(User|Group) convsync-warm-up/.test(a.what)).map((a) => a.answer)).toEqual([
      expect.stringMatching(/not found/),
      expect.stringMatching(/not found/),
    ]);
    expect(lines).toEqual([]);
    // a store that fails: the first failure ends the warm-up, and the daemon starts all the same
    store.close();
    const before = asked.length;
    expect(() => warmUpLookups(wrapped, parseQuery, logger, 'idp')).not.toThrow();
    // asked until the first failure (a listing of nothing is answered from what the provider counted), then no more
    const after = asked.slice(before).map((a) => a.answer);
    expect(after.filter((a) => /not open/.test(a))).toHaveLength(1);
    expect(after.at(-1)).toMatch(/not open/);
    expect(lines).toEqual([
      expect.objectContaining({ msg: expect.stringMatching(/^a SCIM push look-up failed before the daemon listened/), err: expect.any(String) }),
    ]);
  });

  it('starts all the same when a stored answer is not JSON any more: the listing that meets it fails, and the warm-up ends there', () => {
    const { store, path } = storeWithDirectory();
    const { wrapped, asked } = recorded(scimPushProvider.open(store, SOURCE, () => {}));
    warmUpLookups(wrapped, parseQuery, pino({ level: 'silent' }), 'idp');
    const other = new Database(path);
    other.prepare(`UPDATE push_rendered SET json = '{"id": "u-ann", ' WHERE kind = 'User'`).run();
    other.close();
    asked.length = 0;
    const { logger, lines } = recordingLogger();
    expect(() => warmUpLookups(wrapped, parseQuery, logger, 'idp')).not.toThrow();
    expect(asked).toEqual([{ what: expect.stringMatching(/^User .*startIndex/), answer: expect.stringMatching(/JSON/) }]);
    expect(lines).toHaveLength(1);
    store.close();
  });

  it('does not hold the start up for busy_timeout when another writer holds the store, and leaves busy_timeout as it was', () => {
    const { store, path } = storeWithDirectory();
    store.push.putUser('idp2', { id: 'u-cy', userName: 'cy@example.com', active: true, resource: { userName: 'cy@example.com' } }, new Date().toISOString());
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    const { logger, lines } = recordingLogger();
    const dir = mkdtempSync(join(tmpdir(), 'convsync-warm-up-'));
    writeFileSync(join(dir, 'token'), 'secret-token-for-the-warm-up-test\n');
    const source = { ...SOURCE, type: 'scim-push', tokenFile: join(dir, 'token') } as ScimPushSourceConfig;
    const started = Date.now();
    mountScimPush(express(), { sources: [source, { ...source, name: 'idp2', path: '/scim2' }], store, logger, maxBodyBytes: 1_048_576, onChange: () => {} });
    // each source's first answer to render met the lock: one failure each, and no other write tried
    expect(lines.map((l) => [l.msg, l.err])).toEqual([
      [expect.stringMatching(/^a SCIM push look-up failed/), 'database is locked'],
      [expect.stringMatching(/^a SCIM push look-up failed/), 'database is locked'],
    ]);
    // busy_timeout is 5 s a write: the two sources waited far less than one of those
    expect(Date.now() - started).toBeLessThan(BUSY_TIMEOUT_MS);
    other.exec('ROLLBACK');
    const db = (store as unknown as { db: Database.Database }).db;
    expect(db.pragma('busy_timeout', { simple: true })).toBe(BUSY_TIMEOUT_MS);
    other.close();
    store.close();
  });

  it('is asked of every push source as its routes are mounted, before any request, and counts no request', () => {
    const { store, path } = storeWithDirectory();
    const dir = mkdtempSync(join(tmpdir(), 'convsync-warm-up-'));
    writeFileSync(join(dir, 'token'), 'secret-token-for-the-warm-up-test\n');
    const requests: string[] = [];
    const source = { ...SOURCE, type: 'scim-push', tokenFile: join(dir, 'token') } as ScimPushSourceConfig;
    mountScimPush(express(), {
      sources: [source],
      store,
      logger: pino({ level: 'silent' }),
      maxBodyBytes: 1_048_576,
      onChange: () => {},
      onRequest: (method, status) => requests.push(`${method} ${status}`),
    });
    const other = new Database(path, { readonly: true });
    expect(other.prepare('SELECT kind, id FROM push_rendered ORDER BY kind').all()).toEqual([
      { kind: 'Group', id: 'g-team' },
      { kind: 'User', id: 'u-ann' },
    ]);
    expect(requests).toEqual([]);
    other.close();
    store.close();
  });
});
