import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema.js';
import { createApp } from '../../src/main.js';
import { runOnce } from '../../src/reconcile/run.js';
import { WireSandbox } from '../../src/sandbox/wire/server.js';

const NOW = '2026-01-01T00:00:00Z';

it('a conversation a run after a push planned keeps, for a full run that cannot read the other source, the groups of it that feed it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-scoped-groups-'));
  const wire = await WireSandbox.start({});
  try {
    wire.addUser({ email: 'bot@example.com', password: 'bot-password' });
    const ids = Array.from({ length: 6 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    for (const id of ids) wire.addUser({ id });
    const users = ids.map((externalId, i) => ({ id: `u${i}`, userName: `user${i}`, externalId, active: true }));
    // a file source (read on the schedule) and a push source; one rule unites their groups of a department
    const file = join(dir, 'directory.json');
    writeFileSync(file, JSON.stringify({ users, groups: [{ id: 'z', displayName: 'dept-x', members: ['u5'] }] }));
    const config = ConfigSchema.parse({
      store: { path: join(dir, 'db.sqlite') },
      sources: [
        { name: 'idp', type: 'scim-push', token: 'push-token', path: '/scim/idp' },
        { name: 'dir', type: 'file', path: file },
      ],
      backend: { type: 'wire', baseUrl: wire.url, email: 'bot@example.com', password: 'bot-password', teamId: wire.teamId },
      mappings: [{ match: { displayName: '^dept-(.+)$' }, conversation: 'dept-{1}', name: 'Dept {1}', onGroupRemoved: 'delete' }],
      guards: { maxRemovalsPerRun: 10_000, maxRemovalRatio: 1, maxUnbindsPerRun: 100, maxDeletesPerRun: 100 },
      reconcile: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2, lostAnswerSettleMs: 0 },
      drift: { refreshEveryRuns: 0 },
      log: { level: 'silent' },
    });
    const app = await createApp(config, { logger: pino({ level: 'silent' }), writer: 'test' });
    try {
      const push = app.store.push;
      ids.forEach((externalId, i) =>
        push.putUser('idp', { id: `u${i}`, userName: `user${i}@example.com`, externalId, active: true, resource: { userName: `user${i}@example.com` } }, NOW),
      );
      push.putGroup('idp', { id: 'a', displayName: 'dept-x' }, NOW);
      push.replaceMembers('idp', 'a', ['u0']);
      // the IdP's other groups, of no rule
      for (let i = 0; i < 9; i++) {
        push.putGroup('idp', { id: `o${i}`, displayName: `other-${i}` }, NOW);
        push.replaceMembers('idp', `o${i}`, ['u2']);
      }
      expect((await runOnce(app, { mode: 'sync' })).exitCode).toBe(0);
      const dept = app.store.bindingOf('conv:dept-x')!.conversationId;

      // a push to idp: its run reads idp only
      push.replaceMembers('idp', 'a', ['u0', 'u1']);
      await runOnce(app, { mode: 'sync', scope: new Set(['idp:a']) });

      // the IdP deletes its group; the scheduled full run cannot read the file this time
      push.deleteGroup('idp', 'a');
      writeFileSync(file, '{ "users": [');
      const full = await runOnce(app, { mode: 'sync' });
      expect(full.readErrors.length).toBeGreaterThan(0);
      // dir:z, unknown this run, still feeds the department: nothing is deleted
      expect(full.plan.ops.filter((o) => o.op === 'delete')).toEqual([]);
      expect(wire.conversations.has(dept)).toBe(true);
    } finally {
      await app.close();
    }
  } finally {
    await wire.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
