import { extname } from 'node:path';
import { pino, type Logger } from 'pino';
import type { FileSourceConfig } from '../../config/schema.js';
import { PermanentError } from '../../errors.js';
import { isBusy } from '../../store/busy.js';
import type { Store } from '../../store/store.js';
import { expandGroups, type FlatGroup } from '../expand.js';
import type { FetchOptions, Source, SourceAdapter, SourceContext, SourceResult, SourceUser } from '../types.js';
import { readChanges, unknownWarning } from './changes.js';
import { plainUsersFile } from './directory-users.js';
import { checkFiles, filesOf, fingerprintOf, readStamped, sameVersion, type FilesChecked, type ReadFile } from './fingerprint.js';
import { parseFile, sourceUserOf, type FileContent } from './format.js';
import { spansOf } from './spans.js';
import { cursorOf, printMembers, rowsOfWholeRead, rowsToWrite } from './stored.js';
import { printKeyOf } from '../print.js';
import { keptUsers } from './user-changes.js';

/**
 * Users and groups from a YAML/JSON file or a directory of them, for GitOps and tests. The whole
 * directory is read or nothing is: a file that does not parse fails the source with its path.
 * What was read is remembered by its fingerprint (names, sizes, hashes, and what stat tells), so a run can tell
 * that the files are unchanged without parsing them. A directory of several files, or a single JSON
 * file, is also kept in the store group by group, so that a run planning only what changed parses
 * only the files (or, in a single file, the groups) that did.
 */
class FileSource implements Source {
  readonly id: string;
  /**
   * the files the last `changed()` found unchanged when others had, and those it read changed, with
   * their bytes (a large single file's held until the read that follows in the run), against which fingerprint
   */
  private checked?: FilesChecked;

  constructor(
    private readonly config: FileSourceConfig,
    private readonly store: Store | undefined,
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {
    this.id = config.name;
  }

  async changed(): Promise<boolean> {
    this.checked = undefined;
    const fingerprint = this.store?.reads.state(this.id)?.fingerprint;
    if (fingerprint === undefined || fingerprint === null) return true;
    try {
      const check = checkFiles(this.config.path, fingerprint);
      // files hashed the same get stamps trusted without a read next time, as git refreshes its index
      if (check.fingerprint) this.store!.reads.restamp(this.id, fingerprint, check.fingerprint);
      // kept for the read of what changed that follows in this run (once): a file changed after this
      // check keeps its old stamp, which it no longer matches, so the next run finds it
      this.checked = check.same ? undefined : { fingerprint, unchanged: check.unchanged, changed: check.changed };
      return !check.same;
    } catch {
      // unreadable now: the read says why
      return true;
    }
  }

  async fetch(_signal?: AbortSignal, opts?: FetchOptions): Promise<SourceResult> {
    const at = new Date(this.now()).toISOString();
    // what the check found serves this read only: its bytes are not kept to the next run
    const checked = this.checked;
    this.checked = undefined;
    if (opts?.partial && this.store) {
      const { reads, prints } = this.store;
      let changes: SourceResult | undefined;
      const read = () => readChanges({ source: this.id, path: this.config.path, reads, key: printKeyOf(prints.key()), at, ...(checked ? { checked } : {}) });
      try {
        try {
          changes = read();
        } catch (e) {
          // another connection wrote to the store while it read: once more, from what it holds now
          if (!isBusy(e)) throw e;
          changes = read();
        }
      } catch (e) {
        // whatever stopped it (a file that does not parse, the store busy twice), a whole read finds again and says
        this.logger.info({ source: this.id, err: (e as Error).message }, 'the files that changed could not be read alone; reading them all');
      }
      if (changes) return changes;
    }
    return this.readWhole(at);
  }

  private readWhole(at: string): SourceResult {
    const files = this.files();
    const contents = files.map((read) => ({ file: read.file, bytes: read.bytes, content: parseFile(this.id, read) }));
    const users = new Map<string, SourceUser>();
    const groups = new Map<string, FlatGroup>();
    const twice: string[] = [];
    for (const { file, content } of contents) {
      for (const u of content.users) users.set(u.id, sourceUserOf(u));
      for (const g of content.groups) {
        if (groups.has(g.id)) twice.push(`file source ${this.id}: group ${g.id} is defined more than once; the last definition (in ${file}) is used`);
        groups.set(g.id, g);
      }
    }
    const expanded = expandGroups(this.id, [...groups.values()], users);
    const { groups: out, unknown } = expanded;
    const version = this.remember(files, contents, expanded, at);
    return {
      source: this.id,
      groups: out,
      listingComplete: true,
      warnings: [...twice, ...unknown.map(([g, m]) => unknownWarning(this.id, g, m))],
      ...(version !== undefined ? { version } : {}),
    };
  }

  /**
   * The fingerprint of what was read (new content is a new version of the source) and, for a
   * directory of several files, its groups and users, unless the store holds them as read already.
   * One transaction, holding the write lock from its first read to its write. The source's version
   * it left, or null when the store stayed busy.
   */
  private remember(
    files: readonly ReadFile[],
    contents: readonly { file: string; bytes: Buffer; content: FileContent }[],
    expanded: ReturnType<typeof expandGroups>,
    at: string,
  ): number | null | undefined {
    if (!this.store) return undefined;
    const { reads } = this.store;
    const fingerprint = fingerprintOf(files);
    // a single file is followed group by group when it is JSON laid out plainly (see spans.ts)
    const single = files.length === 1 && extname(files[0]!.file) === '.json' ? spansOf(files[0]!.bytes) : undefined;
    const follow = files.length > 1 || single !== undefined;
    const key = printKeyOf(this.store.prints.key());
    if (follow) printMembers(expanded.groups, key);
    // so is a directory's one file of users
    const usersFile = files.length > 1 ? plainUsersFile(contents) : undefined;
    const rows = follow ? rowsOfWholeRead(contents, expanded, key, single && { bytes: files[0]!.bytes, spans: single }, usersFile) : undefined;
    const keptFrom = single ? { bytes: files[0]!.bytes, spans: single } : usersFile;
    try {
      return reads.writing(() => {
        const before = reads.state(this.id);
        const changed = !sameVersion(before?.fingerprint, fingerprint);
        const kept = cursorOf(before?.cursor) !== undefined;
        const mark = { at, fingerprint };
        // what is kept is a copy, written again wherever it is not what this read would write, whatever the stamps say;
        // rows all as kept, only the cursor may differ (a user moved between files, the mark of a read of what changed): no new version for that
        const differ = rows && kept ? rowsToWrite(reads, this.id, before?.cursor, rows) : undefined;
        if (rows && kept && !differ) reads.mark(this.id, { ...mark, cursor: JSON.stringify(rows.cursor) }, { full: true, changed });
        else if (rows && differ) reads.rewrite(this.id, differ, { ...mark, cursor: JSON.stringify(rows.cursor) });
        else if (rows) reads.replace(this.id, rows, { ...mark, cursor: JSON.stringify(rows.cursor) });
        else if (kept) reads.replace(this.id, { groups: [], users: [] }, { ...mark, cursor: null });
        else reads.mark(this.id, mark, { full: true, changed });
        // such a users list is kept as bytes: a run after a few users changed parses only those (user-changes.ts)
        const usersBytes = rows?.cursor.usersBytes;
        if (usersBytes === undefined || !keptFrom) reads.bytes.put(this.id, undefined);
        else if (reads.bytes.digest(this.id) !== usersBytes)
          reads.bytes.put(this.id, keptUsers(keptFrom.bytes, keptFrom.spans.users, keptFrom.spans.userElements, usersBytes));
        return reads.version(this.id);
      });
    } catch (e) {
      if (!isBusy(e)) throw e;
      this.logger.warn(
        { source: this.id },
        'another connection wrote to the store while this read was stored; the read is used, not stored, and the next run reads again',
      );
      return null;
    }
  }

  private files(): ReadFile[] {
    const path = this.config.path;
    try {
      return filesOf(path).map((f) => readStamped(f));
    } catch (e) {
      throw new PermanentError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { origin: `file:${this.id}` });
    }
  }
}

export const fileSource = {
  type: 'file',
  // without a store (a benchmark reading a file alone) nothing is remembered, and it always reads
  create: (config: FileSourceConfig, ctx?: SourceContext) => new FileSource(config, ctx?.store, ctx?.now ?? Date.now, ctx?.logger ?? pino({ level: 'silent' })),
} satisfies SourceAdapter<FileSourceConfig>;
