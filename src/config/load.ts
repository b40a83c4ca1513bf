import { readFileSync, accessSync, constants, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigSchema, type Config } from './schema.js';
import { applyOverrides, interpolate, textWhereWanted, told } from './overrides.js';
import { scheduleIssues } from './schedule.js';
import { configYaml } from './yaml-text.js';

export { envNameToPath, formatPath } from './overrides.js';

/** One problem in the configuration, with the path of the key it is about. */
export interface ConfigIssue {
  path: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(`configuration has ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n` + formatIssues(issues));
    this.name = 'ConfigError';
  }
}

export function formatIssues(issues: ConfigIssue[]): string {
  return issues.map((i) => `  - ${i.path || '(top level)'}: ${i.message}`).join('\n');
}

export interface LoadOptions {
  /** YAML or JSON file */
  file: string;
  env?: NodeJS.ProcessEnv;
  /** `path=value` overrides from the command line (highest precedence) */
  set?: string[];
  /** check that every `*File` secret can be read (default true) */
  checkSecretFiles?: boolean;
  /** check the schedule with node-cron, which runs it (the daemon, `validate`) */
  checkSchedule?: boolean;
}

/**
 * file < env (CONVSYNC_*) < --set, then `${VAR}` interpolation, then the schema. Every problem is
 * collected before failing, so an operator fixes them all in one pass.
 */
export function loadConfig(opts: LoadOptions): Config {
  const env = opts.env ?? process.env;
  const issues: ConfigIssue[] = [];
  let text: string;
  try {
    text = readFileSync(opts.file, 'utf8');
  } catch (e) {
    throw new ConfigError([{ path: `(file ${opts.file})`, message: `cannot read: ${(e as Error).message}` }]);
  }
  const read = configYaml(text, opts.file);
  if ('issues' in read) throw new ConfigError(read.issues);
  const raw = read.value;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError([{ path: `(file ${opts.file})`, message: 'must be a mapping of keys to values' }]);
  }

  const origins = applyOverrides(raw as Record<string, unknown>, env, opts.set ?? [], issues);
  const interpolated = interpolate(raw, [], env, issues, origins);
  // parsed once per process: compiling zod's fast path for the schema costs more than it saves
  let result = ConfigSchema.safeParse(interpolated, { jitless: true });
  if (!result.success && textWhereWanted(interpolated, result.error.issues, origins)) result = ConfigSchema.safeParse(interpolated, { jitless: true });
  if (!result.success) {
    // a key whose ${VAR} is unset is reported once, for the variable, not again for its empty value
    const unset = new Set(issues.map((i) => i.path));
    for (const issue of result.error.issues) issues.push(...told(issue as Parameters<typeof told>[0], origins).filter((i) => !unset.has(i.path)));
  }
  if (opts.checkSchedule && !issues.some((i) => i.path === 'schedule')) issues.push(...scheduleIssues((interpolated as { schedule?: unknown }).schedule));
  // relative paths in the file are relative to the file, so a config works from any directory
  const base = dirname(resolve(opts.file));
  // told beside the schema's problems: one pass fixes them all
  if (opts.checkSecretFiles ?? true) {
    const said = new Set(issues.map((i) => i.path));
    issues.push(...checkSecretFiles(interpolated, base).filter((i) => !said.has(i.path)));
  }
  if (!result.success || issues.length > 0) throw new ConfigError(dedupe(issues));
  const config = result.data;
  resolvePaths(config, base);
  return config;
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.path}\0${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** a path of the file, relative to the file's folder */
function fromBase(base: string, path: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}

function resolvePaths(config: Config, base: string): void {
  const abs = (p: string) => fromBase(base, p);
  config.store.path = config.store.path === ':memory:' ? ':memory:' : abs(config.store.path);
  forEachSecretFile(config, (holder, key, file) => {
    holder[key] = abs(file);
  });
  for (const s of config.sources) if (s.type === 'file') s.path = abs(s.path);
}

type Holder = Record<string, unknown>;

function forEachSecretFile(config: unknown, fn: (holder: Holder, key: string, file: string, path: string) => void): void {
  const walk = (node: unknown, path: string) => {
    if (Array.isArray(node)) node.forEach((v, i) => walk(v, `${path}[${i}]`));
    else if (typeof node === 'object' && node !== null) {
      for (const [k, v] of Object.entries(node)) {
        const p = path ? `${path}.${k}` : k;
        if (k.endsWith('File') && typeof v === 'string') fn(node as Holder, k, v, p);
        else walk(v, p);
      }
    }
  };
  walk(config, '');
}

function checkSecretFiles(config: unknown, base: string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  forEachSecretFile(config, (_holder, _key, given, path) => {
    const file = fromBase(base, given);
    try {
      accessSync(file, constants.R_OK);
      if (!statSync(file).isFile()) issues.push({ path, message: `${file} is not a file` });
    } catch (e) {
      issues.push({ path, message: `cannot read file ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
    }
  });
  return issues;
}
