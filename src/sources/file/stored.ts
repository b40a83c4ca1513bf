import { createHash } from 'node:crypto';
import type { ReadChanges, ReadGroup, ReadUser, SourceReads } from '../../store/source-reads.js';
import { headPrint, membersPrint, printBatch, textOf, type PrintKey } from '../print.js';
import type { DesiredGroup } from '../types.js';
import type { FileContent, FileUserRecord } from './format.js';
import { spanDigest, type FileSpans } from './spans.js';
import { wellFormedText } from '../well-formed.js';

/**
 * What a directory source or a single JSON file keeps in the store (`source_read_groups` and
 * `_users`) so that a run after a few files (or groups of the file) changed parses only those. Each
 * group is kept with its member ids, the ids of those that are groups, and this beside them:
 */
export interface StoredGroupData {
  /** the file that lists it, and where in that file */
  file: string;
  pos: number;
  /** its members' print and count, expanded, as last read, and the print of its own fields as a group answered from the store has them */
  print: string;
  head?: string;
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
  g: Pick<DesiredGroup, 'source' | 'id' | 'displayName' | 'members' | 'membersPrint' | 'size'>,
  place: { file: string; pos: number; span?: string },
  listed: { members: string[]; nested: string[]; unknown: readonly string[] | undefined },
  key: PrintKey,
): ReadGroup {
  const { members, nested, unknown } = listed;
  const data: StoredGroupData = {
    file: place.file,
    pos: place.pos,
    print: g.membersPrint ?? membersPrint(g.members, printBatch(key)),
    head: headPrint({ source: g.source, id: g.id, displayName: g.displayName, complete: true }, key),
    size: g.size ?? g.members.length,
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
 * a file whose users changed; for a single JSON file, and for a directory whose users are all in
 * one JSON file laid out plainly (`usersFile`), the digest of its users' bytes instead
 */
export interface StoredCursor {
  v: 1;
  users: Record<string, string>;
  usersBytes?: string;
  usersFile?: string;
  /**
   * Set by a read of what changed that wrote users: a whole read never sets it, so the next one
   * finds the cursor different and compares every user with the store, repairing a row that such
   * a read got wrong, however rare, at one full comparison's cost
   */
  followed?: true;
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
 * Whether every id and group name of a file is well-formed Unicode: a lone surrogate the store keeps
 * is read back as U+FFFD, so two such ids could meet as one, and a name would come back another
 */
export function wellFormed(content: FileContent): boolean {
  const ok = (text: string) => wellFormedText(text);
  return content.users.every((u) => ok(u.id)) && content.groups.every((g) => ok(g.id) && ok(g.displayName) && g.members.every(ok));
}

/** whether a file's text has a `\u` or `\U` escape: bytes decoded as UTF-8 never give a lone surrogate, only such an escape can */
function escapesCodePoints(bytes: Buffer): boolean {
  return bytes.includes('\\u') || bytes.includes('\\U');
}

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
  key: PrintKey,
  /** a single JSON file's bytes and where its users and groups are in them */
  single?: { bytes: Uint8Array; spans: FileSpans },
  /** a directory's one file of users, JSON laid out plainly: its bytes and where its users are in them */
  usersFile?: { file: string; bytes: Uint8Array; spans: Omit<FileSpans, 'groups'> },
): { groups: ReadGroup[]; users: ReadUser[]; cursor: StoredCursor } | undefined {
  // such users are told by their bytes (their digest still says whether JSON text keeps them: 1e400 reads as Infinity)
  const cursor: StoredCursor = {
    v: 1,
    users: {},
    ...(single ? { usersBytes: spanDigest(single.bytes, single.spans.users) } : {}),
    ...(usersFile ? { usersBytes: spanDigest(usersFile.bytes, usersFile.spans.users), usersFile: usersFile.file } : {}),
  };
  if (single && (files.length !== 1 || files[0]!.content.groups.length !== single.spans.groups.length)) return undefined;
  const records: FileUserRecord[] = [];
  const userIds = new Set<string>();
  const where = new Map<string, { file: string; pos: number; span?: string; members: string[] }>();
  for (const { file, bytes, content } of files) {
    const digest = usersDigest(content.users);
    if (digest === undefined || (escapesCodePoints(bytes) && !wellFormed(content))) return undefined;
    if (content.users.length > 0 && !single && file !== usersFile?.file) cursor.users[file] = digest;
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
    return storedRow(g, place, { members, nested: expanded.nested.get(g.id) ?? [], unknown: unknownOf.get(g.id) }, key);
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
export function printMembers(groups: DesiredGroup[], key: PrintKey): void {
  const batch = printBatch(key);
  for (const g of groups) g.membersPrint = membersPrint(g.members, batch);
}

/**
 * What a whole read must write for the store to hold it: the group rows that differ from those kept
 * (field for field; member and nested ids by their digest) and those gone, and, when the cursor
 * differs from the stored one (the users' digests, or a read of what changed wrote users since),
 * the user rows that differ and those gone. Nothing at all when the store holds these rows already
 * (the cursor is written either way).
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
  const deletedUsers = [...stored.keys()].filter((id) => !read.has(id));
  return groups.length + deletedGroups.length + users.length + deletedUsers.length === 0 ? undefined : { groups, deletedGroups, users, deletedUsers };
}
