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

export type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export function configPath(flags: Flags): string {
  return flags.config ?? process.env.CONVSYNC_CONFIG ?? 'convsync.yaml';
}

export function load(flags: Flags, checkSecretFiles = true, checkSchedule = false): Config {
  return loadConfig({ file: configPath(flags), set: flags.set ?? [], checkSecretFiles, checkSchedule });
}
