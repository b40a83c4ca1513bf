#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { load, OPTIONS, refusedOptions } from './cli/flags.js';
import { ConfigError, formatIssues } from './config/load.js';
import { printable } from './cli/printable.js';
import { describeError } from './errors.js';
import { EXIT } from './reconcile/outcome.js';
import type { runSandboxDemo } from './sandbox/demo.js';

type SandboxBackend = NonNullable<Parameters<typeof runSandboxDemo>[0]['backend']>;

const USAGE = `convsync — keeps chat conversations in sync with identity-provider groups

Usage:
  convsync sync      [--config F] [--dry-run] [--refresh] [--allow-removals] [--output text|json] [--detailed-exitcode]
  convsync plan      [--config F] [--out plan.json] [--output text|json]
  convsync apply     plan.json [--config F] [--output text|json]
  convsync approve   RUN [--config F] [--daemon URL]   (apply the removals that guards held back in run RUN)
  convsync daemon    [--config F]   (schedule + HTTP: /healthz /readyz /metrics POST /sync)
  convsync explain   [--config F] (--user U | --group G)   (one user or group: source → mapping → identity → plan)
  convsync validate  [--config F] [--skip-secrets] [--check-backend]   (--check-backend: log in and check the backend's mode too)
  convsync migrate-to-channels [--config F] [--dry-run] [--allow-removals] [--old keep|rename]   (Wire: bound groups made again as channels)
  convsync status    [--config F] [--output text|json]
  convsync sandbox   [--backend wire|protocol|mixin]   (fake chat backend + fake SCIM directory, synced; no accounts needed)

Options:
  -c, --config F     configuration file (default: $CONVSYNC_CONFIG or ./convsync.yaml)
      --set k.p=v    override one configuration key (repeatable; beats CONVSYNC_* variables)
      --daemon URL   where a running daemon is (default: server.host and server.port): while it holds
                     the writer lease, approve and sync --allow-removals are sent to it (token: server.syncToken)

Exit codes: 0 ok · 1 error · 2 changes (only with --detailed-exitcode) · 3 removals held back by guards · 78 bad configuration`;

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
  // a word where a flag was meant (`sync dry-run`) must not run the command without it
  const takes = command === 'apply' || command === 'approve' ? 1 : 0;
  if (rest.length > takes) {
    const extra = rest[takes]!;
    process.stderr.write(
      `convsync ${command} takes ${takes === 0 ? 'no argument' : 'one argument'}, not "${extra}"${extra in OPTIONS ? ` (--${extra}?)` : ''}\n\n${USAGE}\n`,
    );
    return EXIT.error;
  }
  const refused = refusedOptions(command, flags);
  if (refused !== undefined) {
    process.stderr.write(`${refused}\n\n${USAGE}\n`);
    return EXIT.error;
  }
  // each command's modules load with it: a CronJob's `sync` does not pay for the daemon's HTTP stack
  // (express, SAML, SCIM, metrics) or the demo's fakes, nor `--help` for any of them
  const commands = () => import('./cli/commands.js');
  if (command !== 'daemon') baselineWasmOnly();
  switch (command) {
    case 'validate':
      return (await commands()).validate(flags);
    case 'sync':
    case 'plan':
      return (await commands()).sync(command, flags);
    case 'apply':
      return (await commands()).apply(rest[0], flags);
    case 'approve':
      return (await commands()).approve(rest[0], flags);
    case 'status':
      return (await commands()).status(flags);
    case 'explain':
      return (await commands()).explain(flags);
    case 'migrate-to-channels':
      return (await commands()).migrate(flags);
    case 'daemon':
      return (await import('./daemon/run.js')).runDaemon(load(flags, true, true));
    case 'sandbox': {
      const backend = flags.backend ?? 'wire';
      const { backends } = await import('./backends/registry.js');
      if (!backends.has(backend as never)) {
        process.stderr.write(`--backend must be one of: ${[...backends.keys()].join(', ')}\n`);
        return EXIT.error;
      }
      return (await import('./sandbox/demo.js')).runSandboxDemo({ out: process.stdout, backend: backend as SandboxBackend });
    }
    default:
      process.stderr.write(
        `unknown command "${command}": must be one of sync, plan, apply, approve, daemon, explain, validate, status, sandbox, migrate-to-channels\n\n${USAGE}\n`,
      );
      return EXIT.error;
  }
}

/**
 * undici parses HTTP answers with llhttp compiled to WebAssembly. Once the parser runs hot, V8
 * compiles it again with its optimising tier on a background thread, and a process that ends waits
 * for that compilation: about 0.2 s of CPU at the end of every short command (a no-op sync of L ends
 * in 0.4 s instead of 0.6 s). A short command keeps the baseline code, which parses the same; the
 * daemon, which lives long, does not set this. Set before the first connection compiles llhttp.
 */
function baselineWasmOnly(): void {
  // V8 prints an unknown flag's name to stderr: set only where it is known to be one (Node.js 20 to 24)
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 20 && major <= 24) setFlagsFromString('--liftoff-only');
}

main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      if (e instanceof ConfigError) {
        process.stderr.write(`configuration error in ${e.issues.length} place(s):\n${formatIssues(e.issues)}\n`);
        process.exitCode = EXIT.config;
        return;
      }
      process.stderr.write(printable(`error: ${describeError(e)}\n`));
      process.exitCode = EXIT.error;
    },
  )
  .then(exitWhenWritten);

/**
 * A command ends once its output is written. Left to itself, Node waited another 150 ms or so after
 * the last handle closed (idle background work), on every run of a CronJob.
 */
function exitWhenWritten(): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit()));
}
