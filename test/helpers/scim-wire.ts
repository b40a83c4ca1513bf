import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
import { sampleDirectory } from '../../src/sandbox/directory.js';
import { ScimSandbox } from '../../src/sandbox/scim/server.js';
import { WireSandbox } from '../../src/sandbox/wire/server.js';

/**
 * A SCIM sandbox directory and a Wire sandbox that knows its users, with the configuration of a
 * store in a temp folder syncing one to the other (each group its own conversation, named as it).
 * `cleanup` stops both and removes the folder.
 */
export async function scimToWire(opts: { groups: number; membersPerGroup: number; users: number; seed: number; reconcile?: Record<string, unknown> }) {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-scim-wire-'));
  const scim = await ScimSandbox.start({ directory: sampleDirectory(opts), auth: { type: 'bearer', token: 't' } });
  const wire = await WireSandbox.start({});
  wire.addUser({ email: 'bot@example.com', password: 'bot-password' });
  for (const u of scim.users.values()) wire.addUser({ id: u.externalId });
  const config: Config = ConfigSchema.parse({
    store: { path: join(dir, 'db.sqlite') },
    sources: [{ name: 'corp', type: 'scim', baseUrl: scim.baseUrl, auth: { type: 'bearer', token: 't' } }],
    backend: { type: 'wire', baseUrl: wire.url, email: 'bot@example.com', password: 'bot-password', teamId: wire.teamId },
    mappings: [{ match: { displayName: '.*' }, name: '{0}' }],
    reconcile: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2, lostAnswerSettleMs: 0, ...opts.reconcile },
    drift: { refreshEveryRuns: 0 },
    log: { level: 'silent' },
  });
  return {
    scim,
    wire,
    config,
    async cleanup() {
      await wire.stop();
      await scim.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
