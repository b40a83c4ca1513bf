#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, formatIssues, loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { describeError } from './errors.js';
import { createLogger } from './log.js';
import { createApp, type App } from './main.js';
import { parsePlanFile } from './plan/file.js';
import { renderPlan } from './plan/render.js';
import { explainGroup, explainUser } from './cli/explain.js';
import { applySavedPlan, approveRun, EXIT, planForExplain, runOnce, StalePlanError, summarizeResult, type RunOutcome } from './reconcile/run.js';
import { runDaemon } from './daemon/run.js';
import { runSandboxDemo } from './sandbox/demo.js';
import { renderStatus } from './cli/status.js';
import { migrateConversations } from './reconcile/migrate.js';
import { Store } from './store/store.js';

const USAGE = `convsync — keeps chat conversations in sync with identity-provider groups

Usage:
  convsync sync      [--config F] [--dry-run] [--refresh] [--allow-removals] [--output text|json] [--detailed-exitcode]
  convsync plan      [--config F] [--out plan.json] [--output text|json]
  convsync apply     plan.json [--config F] [--output text|json]
  convsync approve   RUN [--config F]   (apply the removals that guards held back in run RUN)
  convsync daemon    [--config F]   (schedule + HTTP: /healthz /readyz /metrics POST /sync)
  convsync explain   [--config F] (--user U | --group G)   (one user or group: source → mapping → identity → plan)
  convsync validate  [--config F] [--skip-secrets] [--check-backend]   (--check-backend: log in and check the backend's mode too)
  convsync migrate-to-channels [--config F] [--dry-run] [--allow-removals] [--old keep|rename]   (Wire: bound groups made again as channels)
  convsync status    [--config F] [--output text|json]
  convsync sandbox   [--backend wire|protocol|mixin]   (fake chat backend + fake SCIM directory, synced; no accounts needed)

Options:
  -c, --config F     configuration file (default: $CONVSYNC_CONFIG or ./convsync.yaml)
      --set k.p=v    override one configuration key (repeatable; beats CONVSYNC_* variables)

Exit codes: 0 ok · 1 error · 2 changes (only with --detailed-exitcode) · 3 removals held back by guards · 78 bad configuration`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  set: { type: 'string', multiple: true },
  'dry-run': { type: 'boolean' },
  'allow-removals': { type: 'boolean' },
  refresh: { type: 'boolean' },
  'detailed-exitcode': { type: 'boolean' },
  'skip-secrets': { type: 'boolean' },
  output: { type: 'string' },
  out: { type: 'string' },
  user: { type: 'string' },
  group: { type: 'string' },
  backend: { type: 'string' },
  old: { type: 'string' },
  'check-backend': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}\n`);
    return EXIT.error;
  }
  const { values: flags, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (flags.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return command || flags.help ? EXIT.ok : EXIT.error;
  }
  if (flags.output !== undefined && flags.output !== 'text' && flags.output !== 'json') {
    process.stderr.write(`--output must be one of: text, json\n`);
    return EXIT.error;
  }
  switch (command) {
    case 'validate':
      return validate(flags);
    case 'sync':
    case 'plan':
      return sync(command, flags);
    case 'apply':
      return apply(rest[0], flags);
    case 'approve':
      return approve(rest[0], flags);
    case 'status':
      return status(flags);
    case 'explain':
      return explain(flags);
    case 'migrate-to-channels':
      return migrate(flags);
    case 'daemon':
      return runDaemon(load(flags));
    case 'sandbox': {
      const backend = flags.backend ?? 'wire';
      if (backend !== 'wire' && backend !== 'protocol' && backend !== 'mixin') {
        process.stderr.write('--backend must be one of: wire, protocol, mixin\n');
        return EXIT.error;
      }
      return runSandboxDemo({ out: process.stdout, backend });
    }
    default:
      process.stderr.write(`unknown command "${command}": must be one of sync, plan, apply, approve, daemon, explain, validate, status, sandbox, migrate-to-channels\n\n${USAGE}\n`);
      return EXIT.error;
  }
}

function configPath(flags: Flags): string {
  return flags.config ?? process.env.CONVSYNC_CONFIG ?? 'convsync.yaml';
}

function load(flags: Flags, checkSecretFiles = true): Config {
  return loadConfig({ file: configPath(flags), set: flags.set ?? [], checkSecretFiles });
}

async function validate(flags: Flags): Promise<number> {
  const config = load(flags, !flags['skip-secrets']);
  process.stdout.write(
    `${configPath(flags)}: valid — ${config.sources.length} source(s), backend ${config.backend.type}, ` +
      `${config.mappings.length} mapping(s), policy ${config.policy}\n`,
  );
  if (!flags['check-backend']) return EXIT.ok;
  const app = createApp(config, { logger: createLogger(config.log.level) });
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

function migrate(flags: Flags): Promise<number> {
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

/**
 * A command that writes: the app with the writer lease, progress on a terminal, the first signal
 * stopping after the call in flight; a stale plan or approval is refused with exit 1.
 */
async function withWriter(flags: Flags, writer: string, fn: (app: App) => Promise<number>): Promise<number> {
  const config = load(flags);
  const app = createApp(config, { logger: createLogger(config.log.level), writer, ...(process.stderr.isTTY ? { tty: process.stderr } : {}), signal: stopSignal() });
  try {
    return await fn(app);
  } catch (e) {
    if (e instanceof StalePlanError) {
      process.stderr.write(`refused: ${e.message}\n`);
      return EXIT.error;
    }
    throw e;
  } finally {
    await app.close();
  }
}

function sync(command: 'sync' | 'plan', flags: Flags): Promise<number> {
  return withWriter(flags, command, async (app) => {
    const mode = command === 'plan' ? 'plan' : flags['dry-run'] ? 'dry-run' : 'sync';
    const outcome = await runOnce(app, {
      mode,
      allowRemovals: flags['allow-removals'] ?? false,
      detailedExitCode: flags['detailed-exitcode'] ?? false,
      refresh: flags.refresh ?? false,
    });
    if (command === 'plan' && flags.out) {
      writeFileSync(flags.out, `${JSON.stringify(outcome.plan, null, 2)}\n`);
      app.logger.info({ file: flags.out }, 'plan saved');
    }
    printOutcome(outcome, flags);
    return outcome.exitCode;
  });
}

async function apply(file: string | undefined, flags: Flags): Promise<number> {
  if (!file) {
    process.stderr.write('apply needs the plan file: convsync apply plan.json\n');
    return EXIT.error;
  }
  const plan = parsePlanFile(readFileSync(file, 'utf8'));
  return withWriter(flags, 'apply', async (app) => {
    const outcome = await applySavedPlan(app, plan);
    printOutcome(outcome, flags);
    return outcome.exitCode;
  });
}

async function approve(run: string | undefined, flags: Flags): Promise<number> {
  const runId = Number(run);
  if (!run || !Number.isInteger(runId) || runId < 1) {
    process.stderr.write('approve needs the number of the run whose removals were held back: convsync approve 42 (see convsync status)\n');
    return EXIT.error;
  }
  return withWriter(flags, 'approve', async (app) => {
    const outcome = await approveRun(app, runId);
    process.stdout.write(
      `Approved run ${runId}: ${outcome.released} held-back removal(s) released` +
        (outcome.stale > 0 ? `, ${outcome.stale} no longer apply (back in their group, or already gone)` : '') +
        `; ${outcome.result?.done ?? 0} call(s) done, ${outcome.result?.failed.length ?? 0} failed.\n`,
    );
    return outcome.exitCode;
  });
}

async function explain(flags: Flags): Promise<number> {
  if ((flags.user === undefined) === (flags.group === undefined)) {
    process.stderr.write('explain needs exactly one of --user U or --group G\n');
    return EXIT.error;
  }
  const config = load(flags);
  const app = createApp(config, { logger: createLogger(config.log.level) });
  try {
    const traced = await planForExplain(app);
    const input = { ...traced, identityFrom: config.identity.from, mappings: config.mappings };
    const text = flags.user !== undefined ? explainUser(input, flags.user) : explainGroup(input, flags.group!);
    if (text === undefined) {
      process.stderr.write(`no ${flags.user !== undefined ? `user matches "${flags.user}"` : `group matches "${flags.group}"`} in the sources\n`);
      return EXIT.error;
    }
    process.stdout.write(text);
    return EXIT.ok;
  } finally {
    await app.close();
  }
}

function status(flags: Flags): number {
  const config = load(flags, false);
  const store = Store.open(config.store.path);
  try {
    process.stdout.write(renderStatus(store, flags.output === 'json' ? 'json' : 'text'));
    return EXIT.ok;
  } finally {
    store.close();
  }
}

function printOutcome(o: RunOutcome, flags: Flags): void {
  if (flags.output === 'json') {
    const out = { runId: o.runId, mode: o.mode, exitCode: o.exitCode, plan: o.plan, result: o.result, readErrors: o.readErrors };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const lines = [renderPlan(o.plan)];
  if (o.drift) {
    const d = o.drift;
    lines.push(`Refreshed from the backend: ${d.added} member(s) added by hand, ${d.left} left, ${d.renamed} renamed, ${d.deleted} conversation(s) gone${d.unreadable ? `, ${d.unreadable} unreadable` : ''}.`);
  }
  if (o.recovered && o.recovered.resolved > 0) {
    lines.push(`Recovered ${o.recovered.resolved} op(s) left pending by an interrupted run (${o.recovered.adopted} conversation(s) adopted).`);
  }
  if (o.result && !o.result.dryRun) {
    const r = summarizeResult(o.result);
    lines.push(`Applied (run ${o.runId}): ${r.done} call(s) done, ${r.failed} failed, ${r.skipped} skipped${r.circuitOpen ? ' — circuit open, retry next run' : ''}`);
    for (const f of o.result.failed.slice(0, 20)) lines.push(`  ✗ ${f.op.op} ${f.op.key}: ${f.error}`);
    if (o.result.failed.length > 20) lines.push(`  … ${o.result.failed.length - 20} more (convsync status)`);
  } else if (o.mode !== 'sync' && o.mode !== 'apply') {
    lines.push(`Nothing applied (${o.mode}).`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** the first SIGINT/SIGTERM stops taking new ops (the call in flight finishes and is journaled) */
function stopSignal(): AbortSignal {
  const controller = new AbortController();
  const stop = () => {
    if (controller.signal.aborted) process.exit(EXIT.error);
    process.stderr.write('stopping after the call in flight (signal again to force)\n');
    controller.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return controller.signal;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof ConfigError) {
      process.stderr.write(`configuration error in ${e.issues.length} place(s):\n${formatIssues(e.issues)}\n`);
      process.exitCode = EXIT.config;
      return;
    }
    process.stderr.write(`error: ${describeError(e)}\n`);
    process.exitCode = EXIT.error;
  },
);
