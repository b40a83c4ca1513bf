import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import type { FileSourceConfig } from '../../config/schema.js';
import { formatPath } from '../../config/load.js';
import { PermanentError } from '../../errors.js';
import type { Store } from '../../store/store.js';
import { expandGroups } from '../expand.js';
import type { Source, SourceAdapter, SourceContext, SourceResult, SourceUser } from '../types.js';
import { filesOf, fingerprintOf, readStamped, sameVersion, sameFiles, type ReadFile } from './fingerprint.js';

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
 * What was read is remembered by its fingerprint (names, sizes, mtimes, hashes), so a run can tell
 * that the files are unchanged without parsing them.
 */
class FileSource implements Source {
  readonly id: string;

  constructor(
    private readonly config: FileSourceConfig,
    private readonly store: Store | undefined,
    private readonly now: () => number,
  ) {
    this.id = config.name;
  }

  async changed(): Promise<boolean> {
    const fingerprint = this.store?.reads.state(this.id)?.fingerprint;
    if (fingerprint === undefined || fingerprint === null) return true;
    try {
      return !sameFiles(this.config.path, fingerprint);
    } catch {
      // unreadable now: the read says why
      return true;
    }
  }

  async fetch(): Promise<SourceResult> {
    const users = new Map<string, SourceUser>();
    const groups = new Map<string, z.infer<typeof FileGroup>>();
    const files = this.files();
    for (const read of files) {
      const { file } = read;
      const parsed = FileDirectory.safeParse(this.parse(read));
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
          userName,
          externalId,
          displayName,
        });
      }
      for (const g of parsed.data.groups) groups.set(g.id, g);
    }
    const { groups: out, unknown } = expandGroups(this.id, [...groups.values()], users);
    const warnings = unknown.map(([g, m]) => `file source ${this.id}: group ${g} lists unknown member ${m}`);
    this.remember(fingerprintOf(files));
    return { source: this.id, groups: out, listingComplete: true, warnings };
  }

  /** the fingerprint of what was read; new content is a new version of the source */
  private remember(fingerprint: string): void {
    if (!this.store) return;
    const before = this.store.reads.state(this.id)?.fingerprint;
    this.store.reads.mark(this.id, { at: new Date(this.now()).toISOString(), fingerprint }, { full: true, changed: !sameVersion(before, fingerprint) });
  }

  private files(): ReadFile[] {
    const path = this.config.path;
    try {
      return filesOf(path).map(readStamped);
    } catch (e) {
      throw new PermanentError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { origin: `file:${this.id}` });
    }
  }

  private parse({ file, bytes }: ReadFile): unknown {
    try {
      const text = bytes.toString('utf8');
      // JSON is YAML too, but the YAML parser is many times slower on large directories
      return (extname(file) === '.json' ? (JSON.parse(text) as unknown) : parseYaml(text)) ?? {};
    } catch (e) {
      throw new PermanentError(`${file}: ${(e as Error).message}`, { origin: `file:${this.id}`, label: 'invalid-file' });
    }
  }
}

export const fileSource = {
  type: 'file',
  // without a store (a benchmark reading a file alone) nothing is remembered, and it always reads
  create: (config: FileSourceConfig, ctx?: SourceContext) => new FileSource(config, ctx?.store, ctx?.now ?? Date.now),
} satisfies SourceAdapter<FileSourceConfig>;
