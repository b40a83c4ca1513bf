import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../config/load.js';
import { backendFileIssues } from '../backends/registry.js';
import { describeError } from '../errors.js';
import { createLogger } from '../log.js';
import { createApp } from '../main.js';
import { parsePlanFile } from '../plan/file.js';
import { migrateConversations } from '../reconcile/migrate.js';
import { runNumberOf } from '../store/runs.js';
import { applySavedPlan, approveRun, EXIT, planForExplain, runOnce, type RunOutcome } from '../reconcile/run.js';
import { Store, type LeaseHolder } from '../store/store.js';
import type { Config } from '../config/schema.js';
import { sendToDaemon } from './daemon-client.js';
import { explainGroup, explainUser } from './explain.js';
import { configPath, load, type Flags } from './flags.js';
import { printOutcome } from './output.js';
import { printable } from './printable.js';
import { renderStatus } from './status.js';
import { withWriter } from './writer.js';

// one function per command of `convsync`

export async function validate(flags: Flags): Promise<number> {
  const config = load(flags, !flags['skip-secrets'], true);
  // what files hold is read once the configuration is sound (the backend's part told which files)
  const contentIssues = flags['skip-secrets'] ? [] : [...(await backendFileIssues(config.backend)), ...sourceFileIssues(config)];
  if (contentIssues.length > 0) throw new ConfigError(contentIssues);
  process.stdout.write(
    `${configPath(flags)}: valid — ${config.sources.length} source(s), backend ${config.backend.type}, ` +
      `${config.mappings.length} mapping(s), policy ${config.policy}\n`,
  );
  if (!flags['check-backend']) return EXIT.ok;
  // a check before the first run makes no store (one there may hold a renewed Wire cookie: used)
  const store = storeIsThere(config) ? config.store : { path: ':memory:' };
  const app = await createApp({ ...config, store }, { logger: createLogger(config.log.level) });
  try {
    const self = await app.backend.whoami();
    await app.backend.preflight?.();
    process.stdout.write(`backend ${config.backend.type}: signed in as ${self.userId}; it may do what the configuration asks\n`);
    return EXIT.ok;
  } catch (e) {
    process.stderr.write(`backend ${config.backend.type}: ${describeError(e)}\n`);
    return EXIT.error;
  } finally {
    await app.close();
  }
}

/** a file source whose path is not there: every run would fail to read it */
function sourceFileIssues(config: Config): { path: string; message: string }[] {
  return config.sources.flatMap((s, i) =>
    s.type === 'file' && !existsSync(s.path) ? [{ path: `sources[${i}].path`, message: `${s.path}: no such file or directory` }] : [],
  );
}

export function migrate(flags: Flags): Promise<number> {
  const old = flags.old ?? 'keep';
  if (old !== 'keep' && old !== 'rename') {
    process.stderr.write('--old must be one of: keep, rename\n');
    return Promise.resolve(EXIT.error);
  }
  return withWriter(flags, 'migrate-to-channels', async (app) => {
    const outcome = await migrateConversations(app, { dryRun: flags['dry-run'] ?? false, allowRemovals: flags['allow-removals'] ?? false, old });
    printOutcome(outcome, flags);
    return outcome.exitCode;
  });
}

export function sync(command: 'sync' | 'plan', flags: Flags): Promise<number> {
  const mode = command === 'plan' ? 'plan' : flags['dry-run'] ? 'dry-run' : 'sync';
  const viaDaemon = async (holder: LeaseHolder, config: Config) => {
    process.stderr.write(`a daemon holds the writer lease: the run is made by it\n`);
    const outcome = (await sendToDaemon(config, holder, '/sync?allowRemovals=true', flags.daemon)) as RunOutcome;
    printOutcome(outcome, flags);
    return outcome.exitCode;
  };
  return withWriter(
    flags,
    command,
    async (app) => {
      const outcome = await runOnce(app, {
        mode,
        allowRemovals: flags['allow-removals'] ?? false,
        detailedExitCode: flags['detailed-exitcode'] ?? false,
        refresh: flags.refresh ?? false,
      });
      if (command === 'plan' && flags.out) {
        writeFileSync(flags.out, `${JSON.stringify({ ...outcome.plan, runId: outcome.runId }, null, 2)}\n`);
        app.logger.info({ file: flags.out }, 'plan saved');
      }
      printOutcome(outcome, flags);
      return outcome.exitCode;
    },
    // only what a daemon cannot do on its own is sent to it: releasing what guards hold back
    mode === 'sync' && flags['allow-removals'] && !flags.refresh && !flags['detailed-exitcode'] ? viaDaemon : undefined,
  );
}

export async function apply(file: string | undefined, flags: Flags): Promise<number> {
  if (!file) {
    process.stderr.write('apply needs the plan file: convsync apply plan.json\n');
    return EXIT.error;
  }
  let plan: ReturnType<typeof parsePlanFile>;
  try {
    plan = parsePlanFile(readFileSync(file, 'utf8'));
  } catch (e) {
    // which file, always: a read error of Node's (EISDIR, EACCES) may not say; a plan file's content is never quoted
    process.stderr.write(`${file}: ${describeError(e)}\n`);
    return EXIT.error;
  }
  return withWriter(flags, 'apply', async (app) => {
    const outcome = await applySavedPlan(app, plan);
    printOutcome(outcome, flags);
    return outcome.exitCode;
  });
}

export async function approve(run: string | undefined, flags: Flags): Promise<number> {
  const runId = runNumberOf(run);
  if (runId === undefined) {
    process.stderr.write('approve needs the number of the run whose removals were held back: convsync approve 42 (see convsync status)\n');
    return EXIT.error;
  }
  const report = (o: { released: number; stale: number; result?: RunOutcome['result']; exitCode: number }) => {
    process.stdout.write(
      `Approved run ${runId}: ${o.released} held-back removal(s) released` +
        (o.stale > 0 ? `, ${o.stale} no longer apply (back in their group, or already gone)` : '') +
        `; ${o.result?.done ?? 0} call(s) done, ${o.result?.failed.length ?? 0} failed.\n`,
    );
    return o.exitCode;
  };
  return withWriter(
    flags,
    'approve',
    async (app) => report(await approveRun(app, runId)),
    async (holder, config) => {
      process.stderr.write(`a daemon holds the writer lease: the approval is made by it\n`);
      return report((await sendToDaemon(config, holder, `/approve/${runId}`, flags.daemon)) as Parameters<typeof report>[0]);
    },
  );
}

export async function explain(flags: Flags): Promise<number> {
  if ((flags.user === undefined) === (flags.group === undefined)) {
    process.stderr.write('explain needs exactly one of --user U or --group G\n');
    return EXIT.error;
  }
  const config = load(flags);
  // read-only: a mistyped store.path makes no store, and an empty one is not passed off as the real one
  const there = storeIsThere(config);
  if (!there) process.stderr.write(`no store at ${config.store.path} (store.path): explained as before a first run\n`);
  const app = await createApp(there ? config : { ...config, store: { path: ':memory:' } }, { logger: createLogger(config.log.level) });
  try {
    const traced = await planForExplain(app);
    const input = { ...traced, identityFrom: config.identity.from, mappings: config.mappings, parseUserId: (v: string) => app.backend.parseUserId(v) };
    const text = flags.user !== undefined ? explainUser(input, flags.user) : explainGroup(input, flags.group!);
    if (text === undefined) {
      process.stderr.write(`no ${flags.user !== undefined ? `user matches "${flags.user}"` : `group matches "${flags.group}"`} in the sources\n`);
      return EXIT.error;
    }
    process.stdout.write(printable(text));
    return EXIT.ok;
  } finally {
    await app.close();
  }
}

export function status(flags: Flags): number {
  const config = load(flags, false);
  // a mistyped store.path would otherwise show an empty store made just now
  if (!storeIsThere(config)) {
    process.stderr.write(`no store at ${config.store.path} (store.path): convsync has not run with this configuration yet\n`);
    return EXIT.error;
  }
  const store = Store.open(config.store.path);
  try {
    // JSON escapes control characters itself
    process.stdout.write(printable(renderStatus(store, flags.output === 'json' ? 'json' : 'text', { refusedTtlHours: config.identity.cacheTtlHours })));
    return EXIT.ok;
  } finally {
    store.close();
  }
}

/** whether a run has made the store this configuration names (an in-memory one always is) */
function storeIsThere(config: Config): boolean {
  return config.store.path === ':memory:' || existsSync(config.store.path);
}
