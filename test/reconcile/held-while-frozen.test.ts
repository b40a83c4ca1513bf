import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema.js';
import { createApp } from '../../src/main.js';
import { runOnce } from '../../src/reconcile/run.js';
import { WireSandbox } from '../../src/sandbox/wire/server.js';

it('removals held back stay held through a run that cannot plan them (their source distrusted), until approved', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-held-frozen-'));
  const wire = await WireSandbox.start({});
  try {
    wire.addUser({ email: 'bot@example.com', password: 'bot-password' });
    const ids = Array.from({ length: 8 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    for (const id of ids) wire.addUser({ id });
    const users = ids.map((externalId, i) => ({ id: `u${i}`, userName: `user${i}`, externalId, active: true }));
    const others = (members: string[]) => Array.from({ length: 30 }, (_, i) => ({ id: `o${i}`, displayName: `other-${i}`, members }));
    const file = join(dir, 'directory.json');
    const write = (groups: object[]) => writeFileSync(file, JSON.stringify({ users, groups }));
    write([{ id: 'a', displayName: 'team-a', members: ['u0', 'u1', 'u2', 'u3'] }, ...others(['u6', 'u7'])]);
    const config = ConfigSchema.parse({
      store: { path: join(dir, 'db.sqlite') },
      sources: [{ name: 'dir', type: 'file', path: file }],
      backend: { type: 'wire', baseUrl: wire.url, email: 'bot@example.com', password: 'bot-password', teamId: wire.teamId },
      mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}' }],
      guards: { maxRemovalsPerRun: 2, maxRemovalRatio: 1, maxSourceShrink: 0.5 },
      reconcile: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2, lostAnswerSettleMs: 0 },
      drift: { refreshEveryRuns: 0 },
      log: { level: 'silent' },
    });
    const app = await createApp(config, { logger: pino({ level: 'silent' }), writer: 'test' });
    try {
      expect((await runOnce(app, { mode: 'sync' })).exitCode).toBe(0);
      const conv = app.store.bindingOf('group:dir:a')!.conversationId;
      // three leave team-a at once: more than maxRemovalsPerRun, held back
      write([{ id: 'a', displayName: 'team-a', members: ['u0'] }, ...others(['u6', 'u7'])]);
      const held = await runOnce(app, { mode: 'sync' });
      expect(held.exitCode).toBe(3);
      expect([...app.store.guards.heldOps().keys()]).toEqual(['remove group:dir:a']);
      // the next read lacks team-a and half the memberships: the source shrank past maxSourceShrink
      // and is distrusted, so team-a's removals cannot be planned this time (frozen), which approves nothing
      write(others(['u7']));
      const distrusted = await runOnce(app, { mode: 'sync' });
      expect(distrusted.plan.warnings.join('\n')).toMatch(/group:dir:a not listed, but source "dir" was read incompletely: kept as is/);
      // the source reads as before, and two of the three are still out: under the limit on their
      // own, yet held until the run that held them is approved
      write([{ id: 'a', displayName: 'team-a', members: ['u0', 'u1'] }, ...others(['u6', 'u7'])]);
      const after = await runOnce(app, { mode: 'sync' });
      expect(after.exitCode).toBe(3);
      expect(after.plan.ops.filter((o) => o.op === 'remove')).toEqual([]);
      expect(wire.conversations.get(conv)!.members.size).toBe(5);
    } finally {
      await app.close();
    }
  } finally {
    await wire.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
