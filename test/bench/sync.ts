import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ConfigSchema } from '../../src/config/schema.js';
import { createApp } from '../../src/main.js';
import { runOnce } from '../../src/reconcile/run.js';
import { seededRandom } from '../../src/sandbox/random.js';
import { WireSandbox } from '../../src/sandbox/wire/server.js';
import { generateDirectory, type Workload } from './plan.js';

const seconds = (ms: number) => Math.round(ms) / 1000;

/**
 * Whole runs (`runOnce`, as `convsync sync` does) on a generated directory (file source) against
 * the Wire sandbox on loopback with no added latency and no rate limit: the initial full sync, a
 * run with nothing changed, and runs after each of `changeShares` of the memberships changed (half
 * removed, half added, seeded; one after the other). The file source is timed apart, since its read
 * is the directory's size whatever changed; what a change costs beyond a run with nothing to do is
 * reported with the writes it took, to show it grows with the change.
 */
export async function syncBench(w: Workload, changeShares = [0.001, 0.01]) {
  const dir = mkdtempSync(join(tmpdir(), `convsync-bench-sync-${w.name}-`));
  const wire = await WireSandbox.start({});
  try {
    const { users, groups } = generateDirectory(w);
    wire.addUser({ email: 'bot@example.com', password: 'bench-password' });
    for (const u of users) wire.addUser({ id: u.externalId });
    const file = join(dir, 'directory.json');
    writeFileSync(file, JSON.stringify({ users, groups }));
    writeFileSync(join(dir, 'pw'), 'bench-password');
    const config = ConfigSchema.parse({
      store: { path: join(dir, 'db.sqlite') },
      sources: [{ name: 'dir', type: 'file', path: file }],
      backend: { type: 'wire', baseUrl: wire.url, email: 'bot@example.com', passwordFile: join(dir, 'pw'), teamId: wire.teamId },
      mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}' }],
      guards: { maxRemovalsPerRun: 10_000_000, maxRemovalRatio: 1, maxSourceShrink: 1 },
      reconcile: { concurrency: 16, ratePerSecond: 1_000_000, burst: 1000 },
      drift: { refreshEveryRuns: 0 },
      log: { level: 'silent' },
    });
    const app = await createApp(config, { logger: pino({ level: 'silent' }), writer: 'bench' });
    try {
      let sourceMs = 0;
      const source = app.sources[0]!;
      const fetch = source.fetch.bind(source);
      (source as { fetch: typeof fetch }).fetch = async (signal) => {
        const t = performance.now();
        try {
          return await fetch(signal);
        } finally {
          sourceMs = performance.now() - t;
        }
      };
      const run = async () => {
        // a run that finds nothing changed reads no source
        sourceMs = 0;
        const writesBefore = wire.writeCalls().length;
        const t = performance.now();
        const outcome = await runOnce(app, { mode: 'sync' });
        const ms = performance.now() - t;
        if (outcome.exitCode !== 0) throw new Error(`run ${outcome.runId} exited ${outcome.exitCode}: ${outcome.readErrors.join('; ')}`);
        return {
          seconds: seconds(ms),
          sourceReadSeconds: seconds(sourceMs),
          restSeconds: seconds(ms - sourceMs),
          writes: wire.writeCalls().length - writesBefore,
          ops: outcome.plan.ops.length,
        };
      };

      const full = await run();
      const noop = await run();

      // change a share of the memberships: as many removed as added, in random groups; then run
      const random = seededRandom(21);
      const changed = async (share: number) => {
        const changes = Math.round(w.memberships * share);
        moveMemberships(groups, w.users, changes, random);
        writeFileSync(file, JSON.stringify({ users, groups }));
        const r = await run();
        // what the change cost beyond a run with nothing to do (which reads and plans nothing)
        const beyondNoopSeconds = seconds((r.seconds - noop.seconds) * 1000);
        return {
          share,
          membershipsChanged: changes,
          ...r,
          beyondNoopSeconds,
          msPerWrite: Math.round((beyondNoopSeconds * 1e6) / Math.max(1, r.writes)) / 1000,
          ratioToFull: Math.round((r.seconds / full.seconds) * 1000) / 1000,
        };
      };
      const incremental = [];
      for (const share of changeShares) incremental.push(await changed(share));
      const storeBytes = statSync(join(dir, 'db.sqlite')).size + (statSync(join(dir, 'db.sqlite-wal'), { throwIfNoEntry: false })?.size ?? 0);
      return {
        workload: w,
        full,
        noop,
        incremental,
        storeMiB: Math.round(storeBytes / 2 ** 20),
        violations: wire.violations.length,
      };
    } finally {
      await app.close();
    }
  } finally {
    await wire.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `changes` memberships moved: half removed, half added (users u0…u{users-1}), in random groups */
export function moveMemberships(groups: readonly { members: string[] }[], users: number, changes: number, random: () => number): void {
  for (let i = 0; i < changes / 2; i++) {
    const g = groups[Math.floor(random() * groups.length)]!;
    g.members.splice(Math.floor(random() * g.members.length), 1);
    let added: string;
    do added = `u${Math.floor(random() * users)}`;
    while (g.members.includes(added));
    g.members.push(added);
  }
}
