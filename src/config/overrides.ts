import { parse as parseYaml } from 'yaml';
import type { ConfigIssue } from './load.js';

const ENV_PREFIX = 'CONVSYNC_';
/** environment variables with this prefix that are not config overrides */
const ENV_RESERVED = new Set(['CONVSYNC_CONFIG', 'CONVSYNC_LOG_PRETTY']);
/** what Kubernetes' service links are named: `<SERVICE>_SERVICE_HOST`, `<SERVICE>_PORT_8080_TCP_ADDR`… */
const SERVICE_LINK = /_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$/;

type Path = (string | number)[];

/** keys whose value is a secret (password, token, clientSecret, syncToken…) */
const SECRET_KEY = /(password|token|secret)$/i;

/** where a value set over the file came from, and its text as given */
export interface Origin {
  from: string;
  text: string;
}

/** each value set over the file, by its path as errors print it */
export type Origins = Map<string, Origin>;

/**
 * `CONVSYNC_*` variables, then `--set key.path=value` (a path as errors print it, `sources[0].path`,
 * or with dots, `sources.0.path`), over what the file says. Values are read as YAML scalars; where
 * the schema wants text, the text as given is used (`checkOrigins`).
 */
export function applyOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, set: readonly string[], issues: ConfigIssue[]): Origins {
  const origins: Origins = new Map();
  const put = (path: Path, text: string, from: string) => {
    const wrong = setPath(raw, path, parseScalar(text));
    if (wrong) issues.push({ path: formatPath(path), message: `${wrong} (${from})` });
    else origins.set(formatPath(path), { from, text });
  };
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || ENV_RESERVED.has(name) || value === undefined) continue;
    put(envNameToPath(name.slice(ENV_PREFIX.length)), value, `set by the environment variable ${name}`);
  }
  for (const assignment of set) {
    const eq = assignment.indexOf('=');
    const path = eq > 0 ? setPathOf(assignment.slice(0, eq)) : undefined;
    if (!path) issues.push({ path: `(--set ${eq > 0 ? assignment.slice(0, eq) : assignment})`, message: 'must be key.path=value' });
    else put(path, assignment.slice(eq + 1), `set by --set ${assignment.slice(0, eq)}`);
  }
  return origins;
}

/** `BACKEND__BASE_URL` → ["backend", "baseUrl"]; `SOURCES__0__NAME` → ["sources", 0, "name"] */
export function envNameToPath(name: string): Path {
  return name.split('__').map((part) => (/^\d+$/.test(part) ? Number(part) : part.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())));
}

/** `sources[0].auth.token` or `sources.0.auth.token` → ["sources", 0, "auth", "token"] */
function setPathOf(text: string): Path | undefined {
  const path: Path = [];
  for (const part of text.split('.')) {
    const m = /^([^[\]]*)((\[\d+\])*)$/.exec(part);
    if (!m) return undefined;
    if (m[1] !== '') path.push(/^\d+$/.test(m[1]!) ? Number(m[1]) : m[1]!);
    for (const index of m[2]!.match(/\d+/g) ?? []) path.push(Number(index));
  }
  return path.length > 0 && path.every((p) => p !== '') ? path : undefined;
}

/**
 * A number or a switch as YAML reads it (`7`, `1e3`, `true`); any other text as given, never as
 * YAML would rewrite it (`abc #1` is not `abc`, a secret's quotes and spaces stay)
 */
function parseScalar(value: string): unknown {
  try {
    const parsed: unknown = parseYaml(value, { logLevel: 'silent' });
    return typeof parsed === 'number' || typeof parsed === 'boolean' ? parsed : value;
  } catch {
    return value;
  }
}

/** sets the value, making what is missing on the way; what is in the way is told, not overwritten */
function setPath(target: Record<string, unknown>, path: Path, value: unknown): string | undefined {
  let node: unknown = target;
  for (const [i, key] of path.entries()) {
    const list = Array.isArray(node);
    if (list !== (typeof key === 'number'))
      return list
        ? `${formatPath(path.slice(0, i))} is a list: give the index, e.g. ${formatPath([...path.slice(0, i), 0, ...path.slice(i)])}`
        : `${formatPath(path.slice(0, i + 1))} is not a list`;
    const holder = node as Record<string | number, unknown>;
    if (i === path.length - 1) {
      holder[key] = value;
      return undefined;
    }
    const next = holder[key];
    if (typeof next !== 'object' || next === null) holder[key] = typeof path[i + 1] === 'number' ? [] : {};
    node = holder[key];
  }
  return undefined;
}

/**
 * `${VAR}` and `${VAR:-default}` in the file's text values. A value that is one `${…}` alone is read
 * as a YAML scalar, so that it can fill a number or a switch (`port: ${PORT}`); where the schema
 * wants text, its text is used.
 */
export function interpolate(value: unknown, path: Path, env: NodeJS.ProcessEnv, issues: ConfigIssue[], origins: Origins): unknown {
  if (typeof value === 'string') {
    const text = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined) return v;
      if (fallback !== undefined) return fallback;
      // inside a secret's text, `${…}` may be part of the secret: not repeated
      const secret = SECRET_KEY.test(String(path[path.length - 1] ?? '')) && value !== `\${${name}}`;
      issues.push({
        path: formatPath(path),
        message: secret ? 'an environment variable its ${…} names is not set' : `environment variable ${name} is not set`,
      });
      return '';
    });
    const whole = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}$/.exec(value);
    if (!whole || text === '') return text;
    origins.set(formatPath(path), { from: `read from \${${whole[1]}}`, text });
    return parseScalar(text);
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, [...path, i], env, issues, origins));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, [...path, k], env, issues, origins)]));
  }
  return value;
}

/**
 * Values set over the file that the schema wants as text get their text back (a password of digits
 * from `CONVSYNC_BACKEND__PASSWORD`); true when one did, and the configuration is to be checked again
 */
export function textWhereWanted(value: unknown, wrong: readonly { code: string; expected?: unknown; path: PropertyKey[] }[], origins: Origins): boolean {
  let changed = false;
  for (const issue of wrong) {
    const origin = origins.get(formatPath(issue.path));
    if (issue.code !== 'invalid_type' || issue.expected !== 'string' || !origin) continue;
    setPath(value as Record<string, unknown>, issue.path as Path, origin.text);
    changed = true;
  }
  return changed;
}

/** a problem of the schema, said of the variable or flag that set the value where one did */
export function told(
  issue: { code: string; path: PropertyKey[]; message: string; keys?: string[]; params?: { pair?: string } },
  origins: Origins,
): ConfigIssue[] {
  const path = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    const byOrigin = issue.keys.flatMap((key) => {
      const full = formatPath([...issue.path, key]);
      const from = [...origins].filter(([p]) => p === full || p.startsWith(`${full}.`) || p.startsWith(`${full}[`)).map(([, o]) => o.from);
      return from.length > 0 ? [{ path: full, message: `not a configuration key (${from.join('; ')})${serviceLinkHint(from)}` }] : [];
    });
    if (byOrigin.length === issue.keys.length) return byOrigin;
  }
  const pair = issue.params?.pair;
  const from = [origins.get(path)?.from, pair === undefined ? undefined : origins.get(formatPath([...issue.path.slice(0, -1), pair]))?.from].filter(
    (f) => f !== undefined,
  );
  return [{ path, message: from.length > 0 ? `${issue.message} (${from.join('; ')})` : issue.message }];
}

function serviceLinkHint(from: readonly string[]): string {
  return from.some((f) => SERVICE_LINK.test(f))
    ? ': Kubernetes sets such variables for a Service whose name starts with convsync- unless the pod says enableServiceLinks: false'
    : '';
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}
