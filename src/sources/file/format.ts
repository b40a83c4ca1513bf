import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import { formatPath } from '../../config/load.js';
import { PermanentError } from '../../errors.js';
import type { SourceUser } from '../types.js';
import type { ReadFile } from './fingerprint.js';

const FileUser = z.looseObject({
  id: z.string().min(1),
  userName: z.string().optional(),
  externalId: z.string().optional(),
  displayName: z.string().optional(),
  emails: z.array(z.string()).default([]),
  active: z.boolean().default(true),
});

const FileGroup = z.strictObject({
  id: z.string().min(1),
  displayName: z.string().min(1),
  /** user ids, or ids of other groups (nested) */
  members: z.array(z.string()).default([]),
});

export const FileDirectory = z.strictObject({
  users: z.array(FileUser).default([]),
  groups: z.array(FileGroup).default([]),
});

export type FileContent = z.infer<typeof FileDirectory>;
export type FileUserRecord = z.infer<typeof FileUser>;

/** one file's users and groups, checked; a file that does not parse or check fails with its path and every problem */
export function parseFile(source: string, { file, bytes }: ReadFile): FileContent {
  let value: unknown;
  const invalid = (why: string) => new PermanentError(`${file}: ${why}`, { origin: `file:${source}`, label: 'invalid-file' });
  try {
    const text = bytes.toString('utf8');
    // JSON is YAML too, but the YAML parser is many times slower on large directories; an empty
    // YAML file lists nobody, a JSON `null` is no listing at all
    value = extname(file) === '.json' ? (JSON.parse(text) as unknown) : (parseYaml(text) ?? {});
    // a YAML alias inside itself makes a loop no read of the users can walk
    if (extname(file) !== '.json') JSON.stringify(value);
  } catch (e) {
    throw invalid((e as Error).message);
  }
  // the schema takes any object for the file's mapping, and every field has a default: a YAML
  // set, ordered map or date would read as a file listing nobody, and its groups as gone
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype)
    throw invalid(`expected a mapping of users and groups, got ${describe(value)}`);
  const plain = plainDirectory(value);
  if (plain) return plain;
  const parsed = FileDirectory.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ');
    throw invalid(problems);
  }
  return parsed.data;
}

/** a user as the file source gives it: the checked record is its raw form */
export function sourceUserOf(u: FileUserRecord): SourceUser {
  const { id, userName, externalId, displayName, emails, active } = u;
  return { id, emails, active, raw: u, userName, externalId, displayName };
}

/**
 * The file's content as the schema gives it, built by hand when it is plain (every field of the
 * type the schema wants): the schema's walk of a million member ids took a third of a second. Any
 * doubt gives undefined, and the schema checks the file and says what is wrong. A test holds the two
 * equal, field for field and in order.
 */
export function plainDirectory(value: unknown): FileContent | undefined {
  if (!isRecord(value) || Object.keys(value).some((k) => k !== 'users' && k !== 'groups')) return undefined;
  const { users = [], groups = [] } = value;
  if (!Array.isArray(users) || !Array.isArray(groups)) return undefined;
  const out: FileContent = { users: [], groups: [] };
  for (const u of users as unknown[]) {
    const user = plainUser(u);
    if (!user) return undefined;
    out.users.push(user);
  }
  for (const g of groups as unknown[]) {
    if (!isRecord(g) || Object.keys(g).some((k) => k !== 'id' && k !== 'displayName' && k !== 'members')) return undefined;
    const { id, displayName, members = [] } = g;
    if (!nonEmpty(id) || !nonEmpty(displayName) || !strings(members)) return undefined;
    out.groups.push({ id, displayName, members: [...members] });
  }
  return out;
}

const OPTIONAL_TEXT = ['userName', 'externalId', 'displayName'] as const;
const KNOWN = new Set(['id', ...OPTIONAL_TEXT, 'emails', 'active']);

function plainUser(u: unknown): FileUserRecord | undefined {
  if (!isRecord(u) || !nonEmpty(u.id)) return undefined;
  const { emails = [], active = true } = u;
  if (!strings(emails) || typeof active !== 'boolean') return undefined;
  const user: Record<string, unknown> = { id: u.id };
  for (const k of OPTIONAL_TEXT) {
    if (!(k in u)) continue;
    if (u[k] !== undefined && typeof u[k] !== 'string') return undefined;
    user[k] = u[k];
  }
  user.emails = [...emails];
  user.active = active;
  for (const k of Object.keys(u)) if (!KNOWN.has(k)) user[k] = u[k];
  return user as FileUserRecord;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value !== 'object') return `a ${typeof value}`;
  const name = (value as object).constructor?.name;
  return name ? `a ${name}` : 'an object without a prototype';
}

/** a plain object whose keys can all be copied by assignment (`__proto__` cannot) */
function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype && !Object.hasOwn(v, '__proto__');
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

function strings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}
