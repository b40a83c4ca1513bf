import { readFileSync, accessSync, constants, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema, type Config } from './schema.js';
import { configYaml } from './yaml-text.js';

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
}

const ENV_PREFIX = 'CONVSYNC_';
/** environment variables with this prefix that are not config overrides */
const ENV_RESERVED = new Set(['CONVSYNC_CONFIG', 'CONVSYNC_LOG_PRETTY']);

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

  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || ENV_RESERVED.has(name) || value === undefined) continue;
    const path = envNameToPath(name.slice(ENV_PREFIX.length));
    setPath(raw as Record<string, unknown>, path, parseScalar(value));
  }
  for (const assignment of opts.set ?? []) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) {
      issues.push({ path: `(--set ${assignment})`, message: 'must be key.path=value' });
      continue;
    }
    setPath(raw as Record<string, unknown>, assignment.slice(0, eq).split('.'), parseScalar(assignment.slice(eq + 1)));
  }

  const interpolated = interpolate(raw, [], env, issues);
  // parsed once per process: compiling zod's fast path for the schema costs more than it saves
  const result = ConfigSchema.safeParse(interpolated, { jitless: true });
  if (!result.success) {
    // a key whose ${VAR} is unset is reported once, for the variable, not again for its empty value
    const unset = new Set(issues.map((i) => i.path));
    for (const issue of result.error.issues) {
      const path = formatPath(issue.path);
      if (!unset.has(path)) issues.push({ path, message: issue.message });
    }
  }
  // relative paths in the file are relative to the file, so a config works from any directory
  const base = dirname(resolve(opts.file));
  // told beside the schema's problems: one pass fixes them all
  if (opts.checkSecretFiles ?? true) {
    const told = new Set(issues.map((i) => i.path));
    issues.push(...checkSecretFiles(interpolated, base).filter((i) => !told.has(i.path)));
  }
  if (!result.success || issues.length > 0) throw new ConfigError(dedupe(issues));
  const config = result.data;
  resolvePaths(config, base);
  return config;
}

/** `BACKEND__BASE_URL` → ["backend", "baseUrl"]; `SOURCES__0__NAME` → ["sources", "0", "name"] */
export function envNameToPath(name: string): string[] {
  return name.split('__').map((part) => part.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));
}

function parseScalar(value: string): unknown {
  try {
    const parsed: unknown = parseYaml(value);
    return parsed === null || typeof parsed === 'object' ? value : parsed;
  } catch {
    return value;
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node: Record<string, unknown> = target;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      node[key] = value;
      return;
    }
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = /^\d+$/.test(path[i + 1] ?? '') ? [] : {};
    node = node[key] as Record<string, unknown>;
  });
}

function interpolate(value: unknown, path: (string | number)[], env: NodeJS.ProcessEnv, issues: ConfigIssue[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined) return v;
      if (fallback !== undefined) return fallback;
      issues.push({ path: formatPath(path), message: `environment variable ${name} is not set` });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, [...path, i], env, issues));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, [...path, k], env, issues)]));
  }
  return value;
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
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

function resolvePaths(config: Config, base: string): void {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
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
    const file = isAbsolute(given) ? given : resolve(base, given);
    try {
      accessSync(file, constants.R_OK);
      if (!statSync(file).isFile()) issues.push({ path, message: `${file} is not a file` });
    } catch (e) {
      issues.push({ path, message: `cannot read file ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
    }
  });
  return issues;
}
