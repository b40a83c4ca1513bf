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

describe('SCIM pull, incremental: the listing of changed users', () => {
  it('does not store a read that skipped a changed user because its pages shifted (one listed user deleted, one made, between pages)', async () => {
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
    await source.fetch(new AbortController().signal);
    t += MINUTE;
    // five users changed: the listing of changed users takes two pages of 4
    for (const id of ['u-000001', 'u-000002', 'u-000003', 'u-000004']) sandbox.updateUser(id, { displayName: `changed ${id}` });
    sandbox.updateUser('u-000005', { active: false });
    // made well before this read starts (runs further apart than the overlap)
    t += 10 * MINUTE;
    const s = sandbox;
    const off = s.onPage((p) => {
      if (p.resource !== 'Users' || p.startIndex !== 1 || p.ids.length !== 4) return;
      off();
      s.deleteUser('u-000001', { touchGroups: false });
      s.addUser({
        id: 'u-000099',
        userName: 'zoe',
        displayName: 'Zoe',
        email: 'zoe@example.com',
        externalId: '99999999-9999-4999-8999-999999999999',
        active: true,
      });
    });
    try {
      await source.fetch(new AbortController().signal);
    } catch (e) {
      expect(String(e)).toMatch(/incremental read failed/);
    }
    // past the overlap, nothing else changing: the deactivated user must not stay active in the stored read
    t += 10 * MINUTE;
    await source.fetch(new AbortController().signal);
    const head = JSON.parse(store.reads.users('corp').get('u-000005')!.split('\n')[0]!) as { active: boolean };
    expect(head.active).toBe(false);
  });
});
