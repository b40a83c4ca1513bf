import Database from 'better-sqlite3';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/sandbox/random.js';
import { Store } from '../../src/store/store.js';
import { desiredState, startCli, startHarness, wireState, type Harness } from '../helpers/harness.js';

/**
 * The promise: whatever is killed when, convsync loses no change and makes no duplicate. The real
 * CLI applies a plan of more than 500 backend calls and is killed with SIGKILL at seeded random
 * moments (start-up, recovery, planning, mid-apply), again and again; each restart resumes.
 */
describe('crash safety', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('survives 20 SIGKILLs at random points of a 518-call apply: exact state, no duplicate, nothing pending', async () => {
    // besides the kills, one write in ten is made and then loses its answer (502, 504, dropped connection)
    h = await startHarness({ groups: 150, membersPerGroup: 4, users: 600, wire: { faults: { latencyMs: 40, lostResponseRatio: 0.1 } } });
    h.writeConfig({ reconcile: { concurrency: 2, ratePerSecond: 1000, burst: 50, baseDelayMs: 10, maxDelayMs: 200, lostAnswerSettleMs: 0 } });
    expect((await h.cli(['sync'])).code).toBe(0);

    // a directory change worth 518 calls: 140 removes, 140 adds, 28 renames, 10 unbinds, 200 creates
    h.directory.groups.forEach((g, i) => {
      h.scim.removeMember(g.id, g.members[0]!.value);
      h.scim.addMember(g.id, h.directory.users[(i * 4 + 4) % 600]!.id);
      if (i % 5 === 0) h.scim.renameGroup(g.id, `${g.displayName}-renamed`);
    });
    for (const g of h.directory.groups.slice(140)) h.scim.deleteGroup(g.id);
    for (let i = 0; i < 200; i++) {
      h.scim.addGroup({
        id: `n-${i}`,
        displayName: `team-new-${i}`,
        members: [0, 1].map((k) => ({ value: h.directory.users[(i * 2 + k) % 600]!.id, type: 'User' as const })),
      });
    }
    const plan = await h.cli(['plan', '--output', 'json']);
    const ops = (JSON.parse(plan.stdout) as { plan: { ops: { op: string; members?: string[] }[] } }).plan.ops;
    const calls = ops.reduce((n, o) => n + (o.op === 'remove' ? o.members!.length : 1), 0);
    expect(calls).toBe(518);

    const random = seededRandom(2026);
    const figures = { kills: 0, attempts: 0, byTime: 0, byWrites: 0, pendingAtKill: 0 };
    while (figures.kills < 20 && figures.attempts < 60) {
      figures.attempts++;
      const writesBefore = h.wire.writeCalls().length;
      const run = startCli(['sync', '--config', h.configFile]);
      if (random() < 0.3) {
        // during start-up, recovery or planning
        figures.byTime++;
        await sleep(100 + Math.floor(random() * 800));
      } else {
        // in the middle of the apply, after a random number of write calls
        figures.byWrites++;
        const target = writesBefore + 1 + Math.floor(random() * 70);
        const deadline = Date.now() + 15_000;
        while (h.wire.writeCalls().length < target && run.child.exitCode === null && Date.now() < deadline) await sleep(2);
      }
      const alive = run.child.exitCode === null;
      run.child.kill('SIGKILL');
      await run.done;
      if (alive) figures.kills++;
      const store = Store.open(join(h.dir, 'convsync.db'));
      figures.pendingAtKill += store.journal.pendingRows().length;
      store.close();
    }
    expect(figures.kills).toBe(20);

    h.wire.faults.lostResponseRatio = 0;
    const final = await h.cli(['sync']);
    expect(final.code, final.stderr).toBe(0);
    const db = new Database(join(h.dir, 'convsync.db'), { readonly: true });
    const resolved = db.prepare(`SELECT count(*) FROM journal WHERE note = 'resolved after interruption'`).pluck().get() as number;
    const adopted = db.prepare(`SELECT count(*) FROM journal WHERE note = 'adopted after interruption'`).pluck().get() as number;
    const interrupted = db.prepare(`SELECT count(*) FROM journal WHERE error_kind = 'interrupted'`).pluck().get() as number;
    db.close();
    // the 10 unbound conversations stay on Wire as they were; the others match the directory exactly
    const state = wireState(h.wire, h.botId); // throws if a name exists twice
    const desired = desiredState(h.scim, h.wireId);
    for (const [name, members] of desired) expect(state.get(name), name).toEqual(members);
    expect(state.size).toBe(desired.size + 10);
    expect(h.wire.conversations.size).toBe(350);
    expect(h.wire.violations).toEqual([]);
    const status = JSON.parse((await h.cli(['status', '--output', 'json'])).stdout) as { pending: unknown[]; conversations: number };
    expect(status).toMatchObject({ pending: [], conversations: 340 });
    expect((await h.cli(['sync', '--output', 'json'])).stdout).toMatch(/"ops": \[\]/);
    // kills left calls pending, and the restarts resolved every one of them against the backend
    expect(figures.pendingAtKill).toBeGreaterThan(0);
    expect(h.wire.lost.length).toBeGreaterThan(0);
    expect(resolved + adopted + interrupted).toBeGreaterThanOrEqual(figures.pendingAtKill > 0 ? 1 : 0);
    console.log(
      `crash test: ${calls} calls planned; ${figures.kills} SIGKILLs in ${figures.attempts} runs (${figures.byTime} timed at start-up/planning, ` +
        `${figures.byWrites} after a random number of writes); ${figures.pendingAtKill} journal rows pending at the kills; ` +
        `at restart ${resolved} resolved, ${adopted} conversations adopted, ${interrupted} found not made and planned again; ${h.wire.lost.length} answers lost`,
    );
  }, 240_000);
});
