import type { FileSourceConfig } from '../../config/schema.js';
import { PermanentError } from '../../errors.js';
import type { Store } from '../../store/store.js';
import { expandGroups, type FlatGroup } from '../expand.js';
import type { DesiredGroup, FetchOptions, Source, SourceAdapter, SourceContext, SourceResult, SourceUser } from '../types.js';
import { readChanges, unknownWarning } from './changes.js';
import { filesOf, fingerprintOf, readStamped, sameVersion, sameFiles, type ReadFile } from './fingerprint.js';
import { parseFile, sourceUserOf, type FileContent } from './format.js';
import { cursorOf, keptAsRead, printMembers, rowsOfWholeRead } from './stored.js';

/**
 * Users and groups from a YAML/JSON file or a directory of them, for GitOps and tests. The whole
 * directory is read or nothing is: a file that does not parse fails the source with its path.
 * What was read is remembered by its fingerprint (names, sizes, mtimes, hashes), so a run can tell
 * that the files are unchanged without parsing them. A directory of several files is also kept in
 * the store group by group, so that a run planning only what changed parses only the files that did.
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

  async fetch(_signal?: AbortSignal, opts?: FetchOptions): Promise<SourceResult> {
    const at = new Date(this.now()).toISOString();
    if (opts?.partial && this.store) {
      const { reads } = this.store;
      let changes: SourceResult | undefined;
      try {
        changes = readChanges({ source: this.id, path: this.config.path, reads, state: reads.state(this.id), at });
      } catch {
        // whatever stopped it, a whole read finds again and says
      }
      if (changes) return changes;
    }
    return this.readWhole(at);
  }

  private readWhole(at: string): SourceResult {
    const files = this.files();
    const contents = files.map((read) => ({ file: read.file, content: parseFile(this.id, read) }));
    const users = new Map<string, SourceUser>();
    const groups = new Map<string, FlatGroup>();
    for (const { content } of contents) {
      for (const u of content.users) users.set(u.id, sourceUserOf(u));
      for (const g of content.groups) groups.set(g.id, g);
    }
    const { groups: out, unknown } = expandGroups(this.id, [...groups.values()], users);
    this.remember(files, contents, { groups: out, unknown }, at);
    return { source: this.id, groups: out, listingComplete: true, warnings: unknown.map(([g, m]) => unknownWarning(this.id, g, m)) };
  }

  /**
   * The fingerprint of what was read (new content is a new version of the source) and, for a
   * directory of several files, its groups and users, unless the store holds them as read already
   */
  private remember(
    files: readonly ReadFile[],
    contents: readonly { file: string; content: FileContent }[],
    expanded: { groups: DesiredGroup[]; unknown: [string, string][] },
    at: string,
  ): void {
    if (!this.store) return;
    const { reads } = this.store;
    const before = reads.state(this.id);
    const fingerprint = fingerprintOf(files);
    const changed = !sameVersion(before?.fingerprint, fingerprint);
    const kept = cursorOf(before?.cursor) !== undefined;
    const mark = { at, fingerprint };
    // a directory of one file gains nothing from being followed file by file
    if (files.length > 1) {
      printMembers(expanded.groups);
      // what is kept is a copy, written again whenever it does not hold what was read, whatever the stamps say
      if (kept && !changed && keptAsRead(reads, this.id, expanded.groups)) return reads.mark(this.id, mark, { full: true, changed });
      const rows = rowsOfWholeRead(contents, expanded.groups, expanded.unknown);
      if (rows) return reads.replace(this.id, rows, { ...mark, cursor: JSON.stringify(rows.cursor) }, { changed });
    }
    if (kept) reads.replace(this.id, { groups: [], users: [] }, { ...mark, cursor: null }, { changed });
    else reads.mark(this.id, mark, { full: true, changed });
  }

  private files(): ReadFile[] {
    const path = this.config.path;
    try {
      return filesOf(path).map(readStamped);
    } catch (e) {
      throw new PermanentError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { origin: `file:${this.id}` });
    }
  }
}

export const fileSource = {
  type: 'file',
  // without a store (a benchmark reading a file alone) nothing is remembered, and it always reads
  create: (config: FileSourceConfig, ctx?: SourceContext) => new FileSource(config, ctx?.store, ctx?.now ?? Date.now),
} satisfies SourceAdapter<FileSourceConfig>;
