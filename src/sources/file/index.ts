import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { FileSourceConfig } from '../../config/schema.js';
import { formatPath } from '../../config/load.js';
import { PermanentError } from '../../errors.js';
import { expandGroups } from '../expand.js';
import type { Source, SourceAdapter, SourceResult, SourceUser } from '../types.js';

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

/**
 * Users and groups from a YAML/JSON file or a directory of them, for GitOps and tests. The whole
 * directory is read or nothing is: a file that does not parse fails the source with its path.
 */
class FileSource implements Source {
  readonly id: string;

  constructor(private readonly config: FileSourceConfig) {
    this.id = config.name;
  }

  async fetch(): Promise<SourceResult> {
    const users = new Map<string, SourceUser>();
    const groups = new Map<string, z.infer<typeof FileGroup>>();
    for (const file of this.files()) {
      const parsed = FileDirectory.safeParse(this.read(file));
      if (!parsed.success) {
        const problems = parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ');
        throw new PermanentError(`${file}: ${problems}`, { origin: `file:${this.id}`, label: 'invalid-file' });
      }
      for (const u of parsed.data.users) {
        const { id, userName, externalId, displayName, emails, active } = u;
        users.set(id, {
          id,
          emails,
          active,
          raw: u,
          ...(userName !== undefined ? { userName } : {}),
          ...(externalId !== undefined ? { externalId } : {}),
          ...(displayName !== undefined ? { displayName } : {}),
        });
      }
      for (const g of parsed.data.groups) groups.set(g.id, g);
    }
    const { groups: out, unknown } = expandGroups(this.id, [...groups.values()], users);
    const warnings = unknown.map(([g, m]) => `file source ${this.id}: group ${g} lists unknown member ${m}`);
    return { source: this.id, groups: out, listingComplete: true, warnings };
  }

  private files(): string[] {
    const path = this.config.path;
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch (e) {
      throw new PermanentError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { origin: `file:${this.id}` });
    }
    if (!isDir) return [path];
    return readdirSync(path)
      .filter((f) => ['.yaml', '.yml', '.json'].includes(extname(f)))
      .sort()
      .map((f) => join(path, f));
  }

  private read(file: string): unknown {
    try {
      const text = readFileSync(file, 'utf8');
      // JSON is YAML too, but the YAML parser is many times slower on large directories
      return (extname(file) === '.json' ? (JSON.parse(text) as unknown) : parseYaml(text)) ?? {};
    } catch (e) {
      throw new PermanentError(`${file}: ${(e as Error).message}`, { origin: `file:${this.id}`, label: 'invalid-file' });
    }
  }
}

export const fileSource = {
  type: 'file',
  create: (config: FileSourceConfig) => new FileSource(config),
} satisfies SourceAdapter<FileSourceConfig>;
