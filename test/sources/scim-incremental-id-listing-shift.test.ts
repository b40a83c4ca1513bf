import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ScimSourceConfig } from '../../src/config/schema.js';
import { sampleDirectory } from '../../src/sandbox/directory.js';
import { ScimSandbox } from '../../src/sandbox/scim/server.js';
import { scimSource } from '../../src/sources/scim/index.js';
import { Store } from '../../src/store/store.js';
import { parsedSource } from '../helpers/source-config.js';

const logger = pino({ level: 'silent' });
const MINUTE = 60_000;
let sandbox: ScimSandbox | undefined;
const stores: Store[] = [];
afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
  for (const s of stores.splice(0)) s.close();
});

describe('SCIM pull, incremental: the listing of ids that says what was deleted', () => {
  it('does not take a live group as deleted when the listing of ids shifted under it (one group deleted and one made between its pages)', async () => {
    let t = Date.parse('2026-03-02T10:00:00.000Z');
    const directory = sampleDirectory({ groups: 6, membersPerGroup: 3, users: 12, seed: 3 });
    sandbox = await ScimSandbox.start({ directory, auth: { type: 'bearer', token: 't0ken' }, maxResults: 4, clock: () => t });
    t += 60 * MINUTE;
    const store = Store.open(':memory:');
    stores.push(store);
    const cfg = parsedSource<ScimSourceConfig>({
      name: 'corp',
      type: 'scim',
      baseUrl: sandbox.baseUrl,
      auth: { type: 'bearer', token: 't0ken' },
      timeoutMs: 2000,
      maxAttempts: 1,
    });
    const source = scimSource.create(cfg, { logger, store, now: () => t });
    const first = await source.fetch(new AbortController().signal);
    expect(first.groups.map((g) => g.id)).toEqual(['g-00001', 'g-00002', 'g-00003', 'g-00004', 'g-00005', 'g-00006']);
    t += MINUTE;

    // a group deleted: the total moves, so the incremental read lists ids (pages of 4)
    sandbox.deleteGroup('g-00006');
    const s = sandbox;
    // while it lists them, after its first page: a group on that page deleted, another made
    const off = s.onPage((p) => {
      if (p.resource !== 'Groups' || p.startIndex !== 1 || p.ids.length !== 4) return;
      off();
      s.deleteGroup('g-00001');
      s.addGroup({ id: 'g-00099', displayName: 'team-new', members: [{ value: 'u-000001', type: 'User' }] });
    });
    const second = await source.fetch(new AbortController().signal);
    // g-00005 was never deleted: asked for by id, it is kept; the group deleted before the read is gone
    expect(s.groups.has('g-00005')).toBe(true);
    expect(second.groups.map((g) => g.id)).toContain('g-00005');
    expect(second.groups.map((g) => g.id)).not.toContain('g-00006');
  });

  it('still takes a group renamed out of the group filter as gone from the source (asked for by id, it is outside the filter)', async () => {
    let t = Date.parse('2026-03-02T10:00:00.000Z');
    const directory = sampleDirectory({ groups: 6, membersPerGroup: 3, users: 12, seed: 3 });
    sandbox = await ScimSandbox.start({ directory, auth: { type: 'bearer', token: 't0ken' }, maxResults: 4, clock: () => t });
    t += 60 * MINUTE;
    const store = Store.open(':memory:');
    stores.push(store);
    const cfg = parsedSource<ScimSourceConfig>({
      name: 'corp',
      type: 'scim',
      baseUrl: sandbox.baseUrl,
      auth: { type: 'bearer', token: 't0ken' },
      timeoutMs: 2000,
      maxAttempts: 1,
      groups: { filter: 'displayName sw "team-"' },
    });
    const source = scimSource.create(cfg, { logger, store, now: () => t });
    await source.fetch(new AbortController().signal);
    t += MINUTE;
    sandbox.renameGroup('g-00003', 'other');
    sandbox.deleteGroup('g-00004');
    const second = await source.fetch(new AbortController().signal);
    expect(second.listingComplete).toBe(true);
    expect(second.groups.map((g) => g.id)).toEqual(['g-00001', 'g-00002', 'g-00005', 'g-00006']);
  });
});
