import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ScimSourceConfig } from '../../src/config/schema.js';
import { sampleDirectory } from '../../src/sandbox/directory.js';
import { ScimSandbox } from '../../src/sandbox/scim/server.js';
import { scimSource } from '../../src/sources/scim/index.js';
import { Store } from '../../src/store/store.js';
import { startProxy } from '../helpers/gateway-proxy.js';
import { cleanupAfterEach } from '../helpers/temp-db.js';
import { parsedSource } from '../helpers/source-config.js';

const logger = pino({ level: 'silent' });
const cleanup = cleanupAfterEach();

const config = (baseUrl: string, extra: Record<string, unknown> = {}) =>
  parsedSource<ScimSourceConfig>({
    name: 'corp',
    type: 'scim',
    baseUrl,
    auth: { type: 'bearer', token: 't0ken' },
    timeoutMs: 2000,
    maxAttempts: 1,
    fullReadEvery: '0s',
    ...extra,
  });

describe('SCIM pull full crawl', () => {
  it('does not take a listing as complete when the provider reports totalResults as the size of each page', async () => {
    const directory = sampleDirectory({ groups: 6, membersPerGroup: 2, users: 12, seed: 3 });
    const sandbox = await ScimSandbox.start({ directory, auth: { type: 'bearer', token: 't0ken' }, maxResults: 2 });
    // a provider outside RFC 7644 §3.4.2: totalResults is what this page holds, not what the query matched
    const proxy = await startProxy(sandbox.url, (method, path) =>
      method === 'GET' && path === '/scim/v2/Groups'
        ? {
            kind: 'mangle',
            body: (text) => {
              const body = JSON.parse(text);
              body.totalResults = body.Resources.length;
              return JSON.stringify(body);
            },
          }
        : { kind: 'pass' },
    );
    const store = Store.open(':memory:');
    cleanup.push(
      () => store.close(),
      () => void proxy.stop(),
      () => void sandbox.stop(),
    );
    const res = await scimSource.create(config(`${proxy.url}/scim/v2`), { logger, store }).fetch(new AbortController().signal);
    expect(res.groups.map((g) => g.id)).toEqual(['g-00001', 'g-00002']);
    // four groups were never listed: they must be unknown, not gone
    expect(res.listingComplete).toBe(false);
    // and no whole read is stored that lacks them
    expect(store.reads.state('corp')).toBeUndefined();
  });

  it('does not take a listing as complete when a group left the filter and another entered it mid-crawl (a group skipped, the total unchanged)', async () => {
    const directory = sampleDirectory({ groups: 4, membersPerGroup: 2, users: 8, seed: 3 });
    directory.groups.forEach((g, i) => (g.displayName = `team-${i + 1}`));
    const sandbox = await ScimSandbox.start({ directory, auth: { type: 'bearer', token: 't0ken' }, maxResults: 2 });
    const store = Store.open(':memory:');
    cleanup.push(
      () => store.close(),
      () => void sandbox.stop(),
    );
    const off = sandbox.onPage((p) => {
      if (p.resource !== 'Groups' || p.startIndex !== 1) return;
      off();
      // an admin renames one listed group out of the filter and another into it: pages shift by one, totalResults stays 4
      sandbox.renameGroup('g-00001', 'archived-1');
      sandbox.addGroup({ id: 'g-00005', displayName: 'team-5', members: [] });
    });
    const cfg = config(sandbox.baseUrl, { groups: { filter: 'displayName sw "team-"' } });
    const res = await scimSource.create(cfg, { logger, store }).fetch(new AbortController().signal);
    const ids = res.groups.map((g) => g.id);
    // g-00003 was never listed though it matched the filter all along
    expect(ids).not.toContain('g-00003');
    expect(res.listingComplete).toBe(false);
    expect(store.reads.state('corp')).toBeUndefined();
  });

  it('does not take a nested group as gone when a gateway answers its read with an HTML 404 page (no SCIM answer)', async () => {
    const directory = sampleDirectory({ groups: 3, membersPerGroup: 2, users: 6, seed: 3 });
    directory.groups[2]!.displayName = 'inner';
    const sandbox = await ScimSandbox.start({ directory, auth: { type: 'bearer', token: 't0ken' } });
    sandbox.addMember('g-00001', 'g-00003', 'Group');
    let broken = true;
    // a load balancer or WAF in front of the provider answers with its own HTML 404 page, not the provider's SCIM error
    const proxy = await startProxy(sandbox.url, (_method, path) =>
      broken && path === '/scim/v2/Groups/g-00003' ? { kind: 'fail', status: 404 } : { kind: 'pass' },
    );
    const store = Store.open(':memory:');
    cleanup.push(
      () => store.close(),
      () => void proxy.stop(),
      () => void sandbox.stop(),
    );
    const cfg = config(`${proxy.url}/scim/v2`, { groups: { filter: 'displayName sw "team-"' } });
    const read = () => scimSource.create(cfg, { logger, store }).fetch(new AbortController().signal);
    broken = false;
    const good = await read();
    const whole = good.groups
      .find((g) => g.id === 'g-00001')!
      .members.map((m) => m.id)
      .sort();
    expect(whole).toHaveLength(4);
    broken = true;
    const res = await read();
    const g1 = res.groups.find((g) => g.id === 'g-00001')!;
    // the inner group's members must not be dropped: the group is unknown, not emptied of them
    expect(g1.complete).toBe(false);
  });
});
