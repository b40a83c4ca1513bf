import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ConfigSchema } from '../../src/config/schema.js';
import { createApp } from '../../src/main.js';
import { randomUuid, seededRandom } from '../../src/sandbox/random.js';
import { WireSandbox } from '../../src/sandbox/wire/server.js';
import { withAncestors } from '../../src/sources/scim-push/context.js';

const NOW = '2026-01-01T00:00:00Z';

/**
 * In-process apps over fresh stores with one scim-push source `idp` whose users u0…u19 are the
 * users of one Wire sandbox, and two mapping rules: `team-*` one conversation each, `eng-*` and
 * `ops-*` one per department. What the IdP pushed is written to the store as the provider does.
 */
export async function pushApps() {
  const wire = await WireSandbox.start({});
  wire.addUser({ email: 'bot@example.com', password: 'bot-password' });
  // not the sandbox's own seed: its first id is the bot's
  const random = seededRandom(4242);
  const backendIds = Array.from({ length: 20 }, () => randomUuid(random));
  for (const id of backendIds) wire.addUser({ id });
  const dirs: string[] = [];

  /** `sources`: more push sources beside `idp` (each at /scim/<name>, the same users); `mappings` in place of the two rules */
  async function pushApp(guards: Record<string, unknown> = {}, opts: { sources?: string[]; mappings?: unknown[] } = {}) {
    const names = ['idp', ...(opts.sources ?? [])];
    const dir = mkdtempSync(join(tmpdir(), 'convsync-push-app-'));
    dirs.push(dir);
    const config = ConfigSchema.parse({
      store: { path: join(dir, 'db.sqlite') },
      sources: names.map((name, i) => ({ name, type: 'scim-push', token: `push-token-${i}`, path: `/scim/${name}` })),
      backend: { type: 'wire', baseUrl: wire.url, email: 'bot@example.com', password: 'bot-password', teamId: wire.teamId },
      mappings: opts.mappings ?? [
        { match: { displayName: '^team-(.+)$' }, name: 'Team {1}' },
        { match: { displayName: '^(eng|ops)-(.+)$' }, conversation: 'dept-{1}', name: 'Dept {1}' },
      ],
      guards: { maxRemovalsPerRun: 10_000, maxRemovalRatio: 1, maxUnbindsPerRun: 100, maxDeletesPerRun: 100, ...guards },
      reconcile: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2, lostAnswerSettleMs: 0 },
      drift: { refreshEveryRuns: 0 },
      log: { level: 'silent' },
    });
    const app = await createApp(config, { logger: pino({ level: 'silent' }), writer: 'test' });
    const push = app.store.push;
    for (const source of names)
      backendIds.forEach((externalId, i) =>
        push.putUser(source, { id: `u${i}`, userName: `user${i}@example.com`, externalId, active: true, resource: { userName: `user${i}@example.com` } }, NOW),
      );
    const groupIn = (source: string, id: string, displayName: string, members: string[]) => {
      push.putGroup(source, { id, displayName }, NOW);
      push.replaceMembers(source, id, members);
    };
    /** the scope the SCIM provider hands a run after a change to these groups: them and every group holding them */
    const scopeIn = (source: string, ids: string[]) =>
      new Set(withAncestors({ store: app.store, source, path: `/scim/${source}`, changed: () => undefined }, ids).map((id) => `${source}:${id}`));
    const group = (id: string, displayName: string, members: string[]) => groupIn('idp', id, displayName, members);
    const scopeOf = (ids: string[]) => scopeIn('idp', ids);
    return { app, push, group, groupIn, scopeOf, scopeIn, close: () => app.close() };
  }

  return {
    wire,
    backendIds,
    pushApp,
    async stop() {
      await wire.stop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}
