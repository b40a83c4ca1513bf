import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { PlanOp } from '../../src/plan/types.js';
import { MixinSandbox } from '../../src/sandbox/mixin/server.js';
import { mixinReconciler } from '../helpers/mixin-reconciler.js';
import { planOf } from '../helpers/plan.js';

/**
 * README "Drift": a conversation convsync was removed from is reported and unbound. Mixin answers
 * a GET by a non-participant with error code 403 inside an HTTP 202 envelope (reference §5.1), so
 * the adapter's PermanentError carries no `status`; refresh.ts only honours `status === 403`.
 */
const logger = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'convsync-mixin-refresh-'));
let sandbox: MixinSandbox | undefined;
afterEach(async () => {
  await sandbox?.stop();
  sandbox = undefined;
});

describe('Mixin drift refresh: a conversation convsync can no longer read (error code 403)', () => {
  it('is reported gone (unbound), not "unreadable" at every refresh', async () => {
    sandbox = await MixinSandbox.start();
    const { bot, people, store, reconciler: r } = mixinReconciler(sandbox, dir, 3);
    const op: PlanOp = { op: 'create', key: 'group:corp:x', name: 'Team x', members: people, groups: ['corp:x'], onGroupRemoved: 'keep', reason: 'test' };
    const made = await r.apply(planOf([op]), store.runs.start('sync'));
    expect(made.failed).toEqual([]);
    const conv = [...sandbox.conversations.values()][0]!;
    // convsync is no participant any more (it left, or the conversation was handed over)
    conv.participants.delete(bot.userId);
    // the sandbox answers as Mixin does
    const refreshed = await r.refresh(store.loadSnapshot());
    expect(sandbox.calls.at(-1)).toMatchObject({ method: 'GET', status: 202, code: 403 });
    expect(refreshed.unreadable).toBe(0);
    expect(refreshed.drift).toHaveLength(1);
    expect(refreshed.drift[0]!.deleted).toMatch(/can no longer read it/);
  });
});
