import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BOT_EMAIL, startHarness, type Harness } from '../helpers/harness.js';

/** migrate-to-channels --dry-run writes nothing: no backend write, no store row outside the run's own record */
describe('migrate-to-channels --dry-run', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  const dump = (file: string) => {
    const db = new Database(file, { readonly: true });
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('runs') ORDER BY name`).pluck().all() as string[];
    const out = Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM "${t}"`).all()]));
    db.close();
    return out;
  };

  it('leaves the store and the backend as they were', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 3, users: 8, wire: { features: { channels: true, mls: true } } });
    expect((await h.cli(['sync'])).code).toBe(0);
    h.wire.users.get(h.botId)!.role = 'admin';
    h.writeConfig({
      backend: { type: 'wire', baseUrl: h.wire.url, email: BOT_EMAIL, passwordFile: './wire-password', teamId: h.wire.teamId, conversationType: 'channel' },
    });
    const before = dump(join(h.dir, 'convsync.db'));
    const writes = h.wire.writeCalls().filter((c) => !/login|access/.test(c.path)).length;
    const dry = await h.cli(['migrate-to-channels', '--dry-run', '--old', 'rename', '--output', 'json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(h.wire.writeCalls().filter((c) => !/login|access/.test(c.path)).length).toBe(writes);
    const after = dump(join(h.dir, 'convsync.db'));
    for (const t of Object.keys(before)) expect(after[t], t).toEqual(before[t]);
  }, 60_000);
});
