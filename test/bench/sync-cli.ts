import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { ConfigSchema } from '../../src/config/schema.js';
import { Store } from '../../src/store/store.js';
import { createApp } from '../../src/main.js';
import { runOnce } from '../../src/reconcile/run.js';
import { seededRandom } from '../../src/sandbox/random.js';
import { WireSandbox } from '../../src/sandbox/wire/server.js';
import { generateDirectory, type Workload } from './plan.js';
import { spread } from './spread.js';
import { moveMemberships } from './sync.js';
import { daemonSyncBench } from './sync-daemon.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** `node dist/cli.js …` as a new process, timed from spawn to exit (what a CronJob pays) */
async function cliRun(args: string[]): Promise<{ seconds: number; stdout: string; code: number | null; stderr: string }> {
  const t = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', CONVSYNC_LOG_PRETTY: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  return { seconds: seconds3(performance.now() - t), stdout, code, stderr };
}

const seconds3 = (ms: number) => Math.round(ms) / 1000;

/** a directory of a users file and a file per group, each written only when its text changed (as a checkout changes) */
function directoryWriter(path: string, users: readonly object[], groups: readonly { id: string }[]) {
  const written = new Map<string, string>();
  return () => {
    mkdirSync(path, { recursive: true });
    const put = (name: string, text: string) => {
      if (written.get(name) === text) return;
      writeFileSync(join(path, name), text);
      written.set(name, text);
    };
    put('users.json', JSON.stringify({ users }));
    for (const g of groups) put(`group-${g.id}.json`, JSON.stringify({ groups: [g] }));
  };
}

function sizeOf(path: string): number {
  return statSync(path).isDirectory() ? readdirSync(path).reduce((n, f) => n + statSync(join(path, f)).size, 0) : statSync(path).size;
}

/** when the file source last read its files whole */
function fullReadAt(db: string): string | null {
  const store = Store.open(db);
  try {
    return store.reads.state('dir')?.fullReadAt ?? null;
  } finally {
    store.close();
  }
}

/**
 * `convsync sync` as a process (CLI, file source, Wire sandbox on loopback), after the initial full
 * sync: `runs` runs with nothing changed (the source's fingerprint unchanged: no read, no plan),
 * the same with a full plan forced (`reconcile.fullPlanEvery=0s`, what every run cost before) as
 * the baseline, `node dist/cli.js --help` as the floor of any run (the process and its modules),
 * and three runs, each after `changeShare` of the memberships changed, with their writes and the
 * window they took on the Wire side; then a hire; then the daemon over the same store, for the same change
 * (sync-daemon.ts).
 */
export async function cliSyncBench(
  w: Workload,
  opts: { runs: number; changeShare: number; changeRuns?: number; layout?: 'file' | 'directory'; daemonRounds?: number },
) {
  const layout = opts.layout ?? 'file';
  const dir = mkdtempSync(join(tmpdir(), `convsync-bench-cli-${w.name}-`));
  const wire = await WireSandbox.start({});
  try {
    const { users, groups } = generateDirectory(w);
    wire.addUser({ email: 'bot@example.com', password: 'bench-password' });
    for (const u of users) wire.addUser({ id: u.externalId });
    const file = join(dir, layout === 'file' ? 'directory.json' : 'directory');
    const write = layout === 'file' ? () => writeFileSync(file, JSON.stringify({ users, groups })) : directoryWriter(file, users, groups);
    write();
    writeFileSync(join(dir, 'pw'), 'bench-password');
    const config = join(dir, 'convsync.yaml');
    const settings = {
      store: { path: join(dir, 'db.sqlite') },
      sources: [{ name: 'dir', type: 'file', path: file }],
      backend: { type: 'wire', baseUrl: wire.url, email: 'bot@example.com', passwordFile: join(dir, 'pw'), teamId: wire.teamId },
      mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}' }],
      guards: { maxRemovalsPerRun: 10_000_000, maxRemovalRatio: 1, maxSourceShrink: 1 },
      // the sandbox makes a change before it answers: a lost create not found is not made
      reconcile: { concurrency: 16, ratePerSecond: 1_000_000, burst: 1000, lostAnswerSettleMs: 0 },
      drift: { refreshEveryRuns: 0 },
      log: { level: 'error' },
    };
    // JSON is YAML
    writeFileSync(config, JSON.stringify(settings));
    const sync = async (...extra: string[]) => {
      const r = await cliRun(['sync', '--config', config, ...extra]);
      if (r.code !== 0) throw new Error(`convsync sync exited ${r.code}: ${r.stderr.slice(0, 500)}`);
      return r;
    };
    // the initial sync is set-up, not measured
    const setupStart = performance.now();
    const app = await createApp(ConfigSchema.parse(settings), { logger: pino({ level: 'silent' }), writer: 'bench' });
    try {
      const first = await runOnce(app, { mode: 'sync' });
      if (first.exitCode !== 0) {
        const why = [
          ...first.readErrors,
          ...(first.result?.failed ?? []).slice(0, 3).map((f) => `${f.op.op} ${f.op.key}: ${f.error}`),
          ...first.plan.blocked.slice(0, 3).map((b) => `${b.kind}: ${b.why}`),
        ];
        throw new Error(`the initial sync exited ${first.exitCode}: ${why.join('; ')}`);
      }
    } finally {
      await app.close();
    }
    const full = { seconds: seconds3(performance.now() - setupStart) };
    // the configuration as the CLI loads it is what its runs compare with
    await sync();
    const times = async (fn: () => Promise<{ seconds: number; stdout: string }>, check?: (stdout: string) => void) => {
      const out: number[] = [];
      for (let i = 0; i < opts.runs; i++) {
        const r = await fn();
        check?.(r.stdout);
        out.push(r.seconds);
      }
      return out;
    };
    const skipped = (stdout: string) => {
      if (!/unchanged since run/.test(stdout)) throw new Error(`a run with nothing changed planned: ${stdout.slice(0, 300)}`);
    };
    const floor = await times(() => cliRun(['--help']));
    const noop = await times(() => sync(), skipped);
    const writesBefore = wire.writeCalls().length;
    const fullPlan = await times(() => sync('--set', 'reconcile.fullPlanEvery=0s'));
    if (wire.writeCalls().length !== writesBefore) throw new Error('a full plan with nothing changed wrote to Wire');
    // the stamp again under the configuration without the override
    await sync();

    const random = seededRandom(21);
    const changes = Math.round(w.memberships * opts.changeShare);
    const moveMembers = () => {
      moveMemberships(groups, w.users, changes, random);
      write();
    };
    /** one run after a change: its writes, the window they took, and whether it read only what changed */
    const changeRun = async () => {
      const readBefore = fullReadAt(join(dir, 'db.sqlite'));
      const before = wire.writeCalls().length;
      const changed = await sync();
      const writes = wire.writeCalls().slice(before);
      const windowSeconds = writes.length === 0 ? 0 : seconds3(Math.max(...writes.map((c) => c.at)) - Math.min(...writes.map((c) => c.at)));
      skipped((await sync()).stdout);
      return {
        seconds: changed.seconds,
        writes: writes.length,
        writesWindowSeconds: windowSeconds,
        beyondWritesSeconds: seconds3((changed.seconds - windowSeconds) * 1000),
        // the run said it planned only the groups that changed (and those sharing their conversations)
        partialPlan: /^Planned \d+ of \d+ group/m.test(changed.stdout),
        // only what changed was parsed (the source's last whole read is still the one before)
        followedFileByFile: fullReadAt(join(dir, 'db.sqlite')) === readBefore,
      };
    };
    // one change after another: a single run on this machine is too noisy to stand alone
    const changeRuns = [];
    for (let i = 0; i < (opts.changeRuns ?? 3); i++) {
      moveMembers();
      changeRuns.push(await changeRun());
    }
    const change = {
      share: opts.changeShare,
      membershipsChanged: changes,
      runs: changeRuns,
      beyondWritesSeconds: spread(changeRuns.map((c) => c.beyondWritesSeconds)),
    };
    // a hire placed in one group, and one user's attribute edited: the users change, not only memberships
    const hired = { id: 'hire-1', userName: 'hire1', externalId: '00000000-0000-4000-8000-00000000b1e5' };
    wire.addUser({ id: hired.externalId });
    users.push(hired);
    groups[Math.floor(random() * groups.length)]!.members.push(hired.id);
    users[Math.floor(random() * (users.length - 1))]!.userName += '-renamed';
    write();
    const hire = await changeRun();
    // the same change again, synced by the daemon
    const daemon = await daemonSyncBench({ dir, settings, wire, rounds: opts.daemonRounds ?? 5, change: moveMembers });
    return {
      workload: w,
      initialSyncInProcessSeconds: full.seconds,
      floorSeconds: floor,
      noopSeconds: noop,
      fullPlanNoopSeconds: fullPlan,
      change,
      hire,
      daemon,
      layout,
      fileMiB: Math.round(sizeOf(file) / 2 ** 20),
      violations: wire.violations.length,
    };
  } finally {
    await wire.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
