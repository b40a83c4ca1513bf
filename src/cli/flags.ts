import type { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

export const OPTIONS = {
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
  daemon: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Option = keyof typeof OPTIONS;

/** the options each command takes besides --config, --set and --help; any other is refused, not ignored */
const TAKES: Record<string, readonly Option[]> = {
  sync: ['dry-run', 'allow-removals', 'refresh', 'output', 'detailed-exitcode', 'daemon'],
  plan: ['out', 'output'],
  apply: ['output'],
  approve: ['daemon'],
  daemon: [],
  explain: ['user', 'group'],
  validate: ['skip-secrets', 'check-backend'],
  'migrate-to-channels': ['dry-run', 'allow-removals', 'old', 'output'],
  status: ['output'],
};

/** why a command refuses the options given (undefined: it takes them all) */
export function refusedOptions(command: string, given: object): string | undefined {
  // the sandbox runs its own configuration
  const takes = command === 'sandbox' ? ['backend', 'help'] : TAKES[command] && [...TAKES[command], 'config', 'set', 'help'];
  if (!takes) return undefined;
  const refused = Object.keys(given).filter((o) => !takes.includes(o));
  // a refresh records what it reads in the store, which a dry run never writes: not ignored, refused
  if (command === 'sync' && 'dry-run' in given && 'refresh' in given)
    return 'convsync sync --dry-run does not take --refresh (a refresh records what it finds in the store, which a dry run never writes: run `convsync sync --refresh`)';
  if (refused.length === 0) return undefined;
  const hint =
    command === 'daemon' && refused.includes('allow-removals')
      ? ' (while the daemon runs, `convsync sync --allow-removals` or `convsync approve RUN` are sent to it)'
      : '';
  return `convsync ${command} does not take ${refused.map((o) => `--${o}`).join(', ')}${hint}`;
}

export type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export function configPath(flags: Flags): string {
  return flags.config ?? process.env.CONVSYNC_CONFIG ?? 'convsync.yaml';
}

export function load(flags: Flags, checkSecretFiles = true, checkSchedule = false): Config {
  return loadConfig({ file: configPath(flags), set: flags.set ?? [], checkSecretFiles, checkSchedule });
}
