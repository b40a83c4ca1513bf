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

const FileDirectory = z.strictObject({
  users: z.array(FileUser).default([]),
  groups: z.array(FileGroup).default([]),
});

export type FileContent = z.infer<typeof FileDirectory>;
export type FileUserRecord = z.infer<typeof FileUser>;

/** one file's users and groups, checked; a file that does not parse or check fails with its path and every problem */
export function parseFile(source: string, { file, bytes }: ReadFile): FileContent {
  let value: unknown;
  try {
    const text = bytes.toString('utf8');
    // JSON is YAML too, but the YAML parser is many times slower on large directories
    value = (extname(file) === '.json' ? (JSON.parse(text) as unknown) : parseYaml(text)) ?? {};
  } catch (e) {
    throw new PermanentError(`${file}: ${(e as Error).message}`, { origin: `file:${source}`, label: 'invalid-file' });
  }
  const parsed = FileDirectory.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ');
    throw new PermanentError(`${file}: ${problems}`, { origin: `file:${source}`, label: 'invalid-file' });
  }
  return parsed.data;
}

/** a user as the file source gives it: the checked record is its raw form */
export function sourceUserOf(u: FileUserRecord): SourceUser {
  const { id, userName, externalId, displayName, emails, active } = u;
  return { id, emails, active, raw: u, userName, externalId, displayName };
}
