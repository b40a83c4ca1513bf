import { createHash } from 'node:crypto';
import { PermanentError } from '../../errors.js';
import { groupKey } from '../../group-key.js';
import type { ReadChanges, ReadGroup, ReadUser, SourceReads } from '../../store/source-reads.js';
import { expandGroups, type FlatGroup } from '../expand.js';
import { membersPrint, textOf } from '../print.js';
import type { DesiredGroup, SourceUser } from '../types.js';
import { sourceUserOf, type FileContent, type FileUserRecord } from './format.js';
import { spanDigest, type FileSpans } from './spans.js';

/**
 * What a directory source or a single JSON file keeps in the store (`source_read_groups` and
 * `_users`) so that a run after a few files (or groups of the file) changed parses only those. Each
 * group is kept with its member ids, the ids of those that are groups, and this beside them:
 */
export interface StoredGroupData {
  /** the file that lists it, and where in that file */
  file: string;
  pos: number;
  /** its members' print and count, expanded, as last read */
  print: string;
  size: number;
  /** member ids that are neither a user nor a group */
  unknown?: string[];
  /** a digest of the rest of its row (name, member ids, nested ids): a whole read compares rows by it */
  row: string;
  /** a single JSON file's: the digest of the group's bytes in it (see spans.ts) */
  span?: string;
}

/**
 * A group as the store keeps it. One builder for a whole read and a read of what changed, so that
 * both write the same text for the same group: a whole read compares rows by their text.
 */
export function storedRow(
  g: DesiredGroup,
  place: { file: string; pos: number; span?: string },
  listed: { members: string[]; nested: string[]; unknown: readonly string[] | undefined },
): ReadGroup {
  const { members, nested, unknown } = listed;
  const data: StoredGroupData = {
    file: place.file,
    pos: place.pos,
    print: g.membersPrint ?? membersPrint(g.members, {}),
    size: g.members.length,
    ...(unknown && unknown.length > 0 ? { unknown: [...unknown] } : {}),
    row: createHash('sha1')
      .update(JSON.stringify([g.displayName, members, nested]))
      .digest('base64'),
    ...(place.span !== undefined ? { span: place.span } : {}),
  };
  return { id: g.id, displayName: g.displayName, members, ...(nested.length > 0 ? { nested } : {}), data: JSON.stringify(data) };
}

/** the unknown member ids an expansion found, by group */
export function unknownByGroup(unknown: readonly [string, string][]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [g, m] of unknown) (out.get(g) ?? out.set(g, []).get(g)!).push(m);
  return out;
}

/**
 * The read state's cursor: the digest of each file's users (files without users left out), to tell
 * a file whose users changed; for a single JSON file, the digest of its users' bytes instead
 */
export interface StoredCursor {
  v: 1;
  users: Record<string, string>;
  usersBytes?: string;
}

export function cursorOf(text: string | null | undefined): StoredCursor | undefined {
  try {
    const cursor = text ? (JSON.parse(text) as StoredCursor) : undefined;
    return cursor?.v === 1 && typeof cursor.users === 'object' ? cursor : undefined;
  } catch {
    return undefined;
  }
}

export function dataOf(head: { data?: string }): StoredGroupData {
  return JSON.parse(head.data ?? 'null') as StoredGroupData;
}

/**
 * Whether every id and group name of a file is well-formed Unicode: SQLite keeps a lone surrogate as
 * U+FFFD, so two such ids could meet in the store as one, and a name would come back another
 */
export function wellFormed(content: FileContent): boolean {
  const ok = (id: string) => (id as WellFormedString).isWellFormed();
  return content.users.every((u) => ok(u.id)) && content.groups.every((g) => ok(g.id) && ok(g.displayName) && g.members.every(ok));
}

/** whether a file's text has a `\u` or `\U` escape: bytes decoded as UTF-8 never give a lone surrogate, only such an escape can */
function escapesCodePoints(bytes: Buffer): boolean {
  return bytes.includes('\\u') || bytes.includes('\\U');
}

/** ES2024's check for a lone surrogate, in every Node.js convsync runs on (20 and later) */
type WellFormedString = string & { isWellFormed(): boolean };

/** the digest of a file's users as checked (of none: `usersDigest([])`); undefined when JSON text cannot keep them (NaN, ±Infinity) */
export function usersDigest(users: readonly FileUserRecord[]): string | undefined {
  const text = JSON.stringify(users);
  if (text.includes('null') && textOf(users) !== text) return undefined;
  return createHash('sha256').update(text).digest('base64');
}

/**
 * The rows a whole read keeps (its groups' members printed already, see printMembers), or
 * undefined when what was read cannot be followed file by file: an id given twice (the last one
 * counts, whatever file changes next), an id that is not well-formed Unicode, or a user JSON cannot
 * keep as read.
 */
export function rowsOfWholeRead(
  files: readonly { file: string; bytes: Buffer; content: FileContent }[],
  expanded: { groups: DesiredGroup[]; unknown: readonly [string, string][]; nested: ReadonlyMap<string, string[]> },
  /** a single JSON file's bytes and where its users and groups are in them */
  single?: { bytes: Uint8Array; spans: FileSpans },
): { groups: ReadGroup[]; users: ReadUser[]; cursor: StoredCursor } | undefined {
  // a single JSON file's users are told by their bytes (their digest still says whether JSON text keeps them: 1e400 reads as Infinity)
  const cursor: StoredCursor = { v: 1, users: {}, ...(single ? { usersBytes: spanDigest(single.bytes, single.spans.users) } : {}) };
  if (single && (files.length !== 1 || files[0]!.content.groups.length !== single.spans.groups.length)) return undefined;
  const records: FileUserRecord[] = [];
  const userIds = new Set<string>();
  const where = new Map<string, { file: string; pos: number; span?: string; members: string[] }>();
  for (const { file, bytes, content } of files) {
    const digest = usersDigest(content.users);
    if (digest === undefined || (escapesCodePoints(bytes) && !wellFormed(content))) return undefined;
    if (content.users.length > 0 && !single) cursor.users[file] = digest;
    for (const u of content.users) {
      if (userIds.has(u.id)) return undefined;
      userIds.add(u.id);
      records.push(u);
    }
    for (const [pos, g] of content.groups.entries()) {
      if (where.has(g.id)) return undefined;
      where.set(g.id, { file, pos, members: g.members, ...(single ? { span: spanDigest(single.bytes, single.spans.groups[pos]!) } : {}) });
    }
  }
  const unknownOf = unknownByGroup(expanded.unknown);
  const groups = expanded.groups.map((g) => {
    const { members, ...place } = where.get(g.id)!;
    return storedRow(g, place, { members, nested: expanded.nested.get(g.id) ?? [], unknown: unknownOf.get(g.id) });
  });
  let users: ReadUser[] | undefined;
  // the users' rows are written only when the store does not hold this read already (compared by the cursor)
  return {
    groups,
    cursor,
    get users() {
      return (users ??= records.map((u) => ({ id: u.id, data: JSON.stringify(u) })));
    },
  };
}

/** each group's members printed, the print left on the group (a run's prints take it from there) */
export function printMembers(groups: DesiredGroup[]): void {
  const call = {};
  for (const g of groups) g.membersPrint = membersPrint(g.members, call);
}

/**
 * What a whole read must write for the store to hold it: the group rows that differ from those kept
 * (field for field; member and nested ids by their digest) and those gone, and, when the users'
 * digests differ from the stored cursor, the user rows that differ and those gone. Nothing at all
 * when the store holds this read already.
 */
export function rowsToWrite(
  reads: SourceReads,
  source: string,
  cursor: string | null | undefined,
  rows: { groups: readonly ReadGroup[]; users: readonly ReadUser[]; cursor: StoredCursor },
): ReadChanges | undefined {
  const heads = new Map(reads.groupHeads(source).map((h) => [h.id, h]));
  const groups = rows.groups.filter((r) => heads.get(r.id)?.displayName !== r.displayName || heads.get(r.id)?.data !== r.data);
  const listed = new Set(rows.groups.map((r) => r.id));
  const deletedGroups = [...heads.keys()].filter((id) => !listed.has(id));
  const usersKept = cursor === JSON.stringify(rows.cursor);
  if (usersKept && groups.length === 0 && deletedGroups.length === 0) return undefined;
  if (usersKept) return { groups, deletedGroups, users: [], deletedUsers: [] };
  const stored = reads.users(source);
  const users = rows.users.filter((u) => stored.get(u.id) !== u.data);
  const read = new Set(rows.users.map((u) => u.id));
  return { groups, deletedGroups, users, deletedUsers: [...stored.keys()].filter((id) => !read.has(id)) };
}

/**
 * Groups expanded from the store, with the groups of the files read now in place of their stored
 * form. A user is read from the store once, and is one object in every group that has them; a
 * group's member ids are read once, and a group once expanded is not expanded again.
 */
export class StoredDirectory {
  private readonly users = new Map<string, SourceUser | null>();
  /** the groups read so far, as listed (member ids) */
  private readonly listed = new Map<string, FlatGroup>();
  private readonly expanded = new Map<string, SourceUser[]>();
  /** the source's version the stubs were answered at: their members are read only while it holds */
  private version?: number;

  constructor(
    private readonly reads: SourceReads,
    private readonly source: string,
    private readonly isGroup: (id: string) => boolean,
    private readonly fresh: ReadonlyMap<string, FlatGroup>,
  ) {}

  holds(version: number): void {
    this.version = version;
  }

  /** these groups, their nested groups expanded as a whole read does, and the member ids that are neither a user nor a group */
  expand(ids: readonly string[]): { groups: DesiredGroup[]; unknown: [string, string][] } {
    const flats = this.closure(ids);
    const users = new Map<string, SourceUser>();
    for (const g of flats) for (const m of g.members) if (this.users.get(m)) users.set(m, this.users.get(m)!);
    const out = expandGroups(this.source, flats, users);
    for (const g of out.groups) this.expanded.set(g.id, g.members);
    const wanted = new Set(ids);
    return { groups: out.groups.filter((g) => wanted.has(g.id)), unknown: out.unknown.filter(([g]) => wanted.has(g)) };
  }

  /** the member ids of a group expanded already */
  membersOf(id: string): string[] {
    return this.listed.get(id)!.members;
  }

  /** whether a member id looked up already is a group's (a user's id wins, as in a whole read) */
  isNested(id: string): boolean {
    return this.users.get(id) === null && this.isGroup(id);
  }

  /** a group answered from the store: its members are read when first asked for */
  stub(id: string, displayName: string, data: StoredGroupData): DesiredGroup {
    const group = {
      key: groupKey(this.source, id),
      source: this.source,
      id,
      displayName,
      complete: true,
      membersPrint: data.print,
      size: data.size,
    } as DesiredGroup;
    Object.defineProperty(group, 'members', {
      enumerable: true,
      configurable: true,
      get: () => {
        const members = this.expanded.get(id) ?? this.reads.atomically(() => this.expandStored(id));
        Object.defineProperty(group, 'members', { value: members, enumerable: true, configurable: true, writable: true });
        return members;
      },
    });
    return group;
  }

  private expandStored(id: string): SourceUser[] {
    if (this.reads.version(this.source) !== this.version)
      throw new PermanentError(`file source ${this.source} was stored anew by another run while this one used it; the next run reads it again`, {
        origin: `file:${this.source}`,
      });
    return this.expand([id]).groups[0]!.members;
  }

  /** the groups these ids reach, listed, with every member id looked up */
  private closure(ids: readonly string[]): FlatGroup[] {
    const flats = new Map<string, FlatGroup>();
    let wave = [...new Set(ids)];
    while (wave.length > 0) {
      const unread = wave.filter((id) => !this.fresh.has(id) && !this.listed.has(id));
      const stored = unread.length > 0 ? this.reads.someGroups(this.source, unread) : new Map();
      for (const id of wave) {
        const g = this.fresh.get(id) ?? this.listed.get(id) ?? stored.get(id);
        if (!g)
          throw new PermanentError(`file source ${this.source}: group ${id} is missing from the store; it is read whole at the next run`, {
            origin: `file:${this.source}`,
          });
        const flat = { id, displayName: g.displayName, members: g.members };
        flats.set(id, flat);
        this.listed.set(id, flat);
      }
      this.lookUp(wave.flatMap((id) => flats.get(id)!.members));
      const next = new Set<string>();
      for (const id of wave) for (const m of flats.get(id)!.members) if (this.isNested(m) && !flats.has(m)) next.add(m);
      wave = [...next];
    }
    return [...flats.values()];
  }

  private lookUp(ids: readonly string[]): void {
    const missing = [...new Set(ids.filter((id) => !this.users.has(id)))];
    if (missing.length === 0) return;
    const found = this.reads.someUsers(this.source, missing);
    for (const id of missing) {
      const data = found.get(id);
      this.users.set(id, data === undefined ? null : sourceUserOf(JSON.parse(data) as FileUserRecord));
    }
  }
}
