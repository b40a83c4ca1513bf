import type { KeptBytes } from '../../store/kept-bytes.js';
import type { SourceReads } from '../../store/source-reads.js';
import { membersPrint, printBatch, type PrintKey } from '../print.js';
import type { DesiredGroup, MembersMoved, SourceResult, SourceUser } from '../types.js';
import { filesOf, recheck, sameVersion, stampsOf, type FilesChecked, type FileStamp } from './fingerprint.js';
import { changedDirectoryUsers, plainUsersFile } from './directory-users.js';
import { parseFile, sourceUserOf, type FileContent } from './format.js';
import { changedSpans, streamedChanges } from './span-changes.js';
import { usersSpansOf } from './spans.js';
import { movedMembers } from './moved-members.js';
import { StoredDirectory } from './stored-directory.js';
import { cursorOf, dataOf, storedRow, unknownByGroup, usersDigest, wellFormed, type StoredCursor, type StoredGroupData } from './stored.js';
import { usersSinceKept } from './user-changes.js';
import type { Changed, Head } from './read-changes.js';

/**
 * A directory read again when a run plans only what changed: the files changed since the last read
 * (of a single JSON file, its groups whose bytes changed and the users whose bytes changed) are
 * parsed, with every file that lists users when the users of one changed; the groups whose name or
 * member ids they change, those listing a user that changed, and the groups that nest those are
 * expanded (members read from the store), but for those whose members only came and went
 * (moved-members.ts); every other group is answered from the store, its members read only if asked
 * for. What this cannot follow file by file — a file added or removed,
 * a group added, removed or moved to another file, an id given twice, too many users changed,
 * nothing stored — gives undefined: the directory is then read whole.
 */
export function readChanges(ctx: {
  source: string;
  path: string;
  reads: SourceReads;
  key: PrintKey;
  at: string;
  checked?: FilesChecked;
}): SourceResult | undefined {
  const { source, reads } = ctx;
  // one state of the store from the first read to the write, which fails if another process wrote meanwhile
  const read = reads.atomically(() => {
    const state = reads.state(source);
    const cursor = cursorOf(state?.cursor);
    const stamps = stampsOf(state?.fingerprint);
    if (!cursor || !stamps) return undefined;
    const files = filesOf(ctx.path);
    if (files.length !== stamps.length || files.some((f, i) => stamps[i]!.file !== f)) return undefined;
    const known = ctx.checked?.fingerprint === state?.fingerprint ? ctx.checked : undefined;
    const heads = new Map(reads.groupHeads(source).map((h): [string, Head] => [h.id, { displayName: h.displayName, nested: h.nested ?? [], data: dataOf(h) }]));
    const { checked, changed } = filesChanged({ source, reads, files, stamps, heads, cursor, known });
    if (!changed) return undefined;
    const users = changed.users;
    // a user new to the file must be new to the store too: one listed twice is left to a whole read
    if (users && users.added.length > 0 && reads.someUsers(source, users.added).size > 0) return undefined;
    const fresh = new Map<string, SourceUser | null>([
      ...(users?.gone ?? []).map((id) => [id, null] as const),
      ...(users?.put ?? []).map((u) => [u.id, sourceUserOf(u)] as const),
    ]);
    // the groups that list a user that changed are expanded again, as are those whose bytes changed
    const listing = fresh.size > 0 ? reads.groupsListing(source, [...fresh.keys()]) : [];
    const directory = new StoredDirectory(reads, source, (id) => heads.has(id), changed.groups, fresh);
    const moved = movedMembers({ reads, source, key: ctx.key, heads, changed: changed.groups, expandedAnyway: new Set(listing), directory });
    const expanded = directory.expand(withNesting([...[...changed.groups.keys()].filter((id) => !moved.has(id)), ...listing], heads));
    const batch = printBatch(ctx.key);
    const unknownOf = unknownByGroup(expanded.unknown);
    const rows = expanded.groups.map((g) => {
      g.membersPrint = membersPrint(g.members, batch);
      const members = directory.membersOf(g.id);
      const nested = members.filter((m) => directory.isNested(m));
      return storedRow(g, changed.places.get(g.id) ?? heads.get(g.id)!.data, { members, nested, unknown: unknownOf.get(g.id) }, ctx.key);
    });
    const movedRows = [...moved].map(([id, m]) => {
      const { displayName, members } = changed.groups.get(id)!;
      const g = { source, id, displayName, membersPrint: m.print, size: m.size, members: [] };
      return storedRow(g, changed.places.get(id)!, { members, nested: [], unknown: undefined }, ctx.key);
    });
    rows.push(...movedRows);
    const mark = {
      at: ctx.at,
      fingerprint: JSON.stringify(checked.map((c): FileStamp => c.stamp)),
      ...(users && { cursor: JSON.stringify({ ...users.cursor, followed: true }) }),
    };
    if (rows.length > 0 || users) {
      const userRows = (users?.put ?? []).map((u) => ({ id: u.id, data: JSON.stringify(u) }));
      reads.apply(source, { groups: rows, deletedGroups: [], users: userRows, deletedUsers: users?.gone ?? [] }, mark);
      if (users?.kept) reads.bytes.put(source, users.kept);
    } else reads.mark(source, mark, { full: false, changed: !sameVersion(state?.fingerprint, mark.fingerprint) });
    // the groups answered from the store are read from it later, only while it holds what it holds now
    const version = reads.version(source);
    directory.holds(version);
    const answered = new Map(
      movedRows.map((r) => [r.id, { displayName: r.displayName, data: JSON.parse(r.data!) as StoredGroupData, moved: moved.get(r.id)!.moved }]),
    );
    return { files, heads, changed, directory, expanded, version, moved: answered };
  });
  return read && resultOf(source, read);
}

/** each file's stamp now, and what changed in those that did (undefined: what a whole read must tell) */
function filesChanged(ctx: {
  source: string;
  reads: SourceReads;
  files: string[];
  stamps: readonly FileStamp[];
  heads: ReadonlyMap<string, Head>;
  cursor: StoredCursor;
  known: FilesChecked | undefined;
}): { checked: { stamp: FileStamp }[]; changed: Changed | undefined } {
  const { source, reads, files, stamps, heads, cursor, known } = ctx;
  const keptBytes = () => reads.bytes.get(source);
  const bySpans = cursor.usersBytes !== undefined && cursor.usersFile === undefined;
  const kept = bySpans ? reads.bytes.shape(source) : undefined;
  // a single file not read yet is read in pieces where its users list is the one kept
  const streamed =
    bySpans && files.length === 1 && !known?.unchanged.has(files[0]!) && !known?.changed.has(files[0]!)
      ? streamedChanges(files[0]!, stamps[0]!, heads, cursor, kept)
      : undefined;
  if (streamed) return { checked: [{ stamp: streamed.stamp }], changed: streamed.changed };
  const devices = new Map<bigint, boolean>();
  const checked = files.map((f, i) => {
    const [unchanged, read] = [known?.unchanged.get(f), known?.changed.get(f)];
    // a file read to tell that it changed (its size stayed) is not read again; a single file is read
    // into the reusable buffer: nothing read from it outlives this read
    return unchanged ? { stamp: unchanged } : read ? { stamp: read.stamp, read } : recheck(f, stamps[i]!, devices, undefined, files.length === 1);
  });
  const changed = bySpans ? changedSpans(checked, heads, cursor, keptBytes, kept) : changedGroups(source, reads, checked, heads, cursor, keptBytes);
  return { checked, changed };
}

/** every group in the order a whole read gives them: those expanded now, and the others answered from the store */
function resultOf(
  source: string,
  {
    files,
    heads,
    changed,
    directory,
    expanded,
    version,
    moved,
  }: {
    files: string[];
    heads: Map<string, Head>;
    changed: Changed;
    directory: StoredDirectory;
    expanded: { groups: DesiredGroup[]; unknown: [string, string][] };
    version: number;
    /** groups whose members only came and went, answered from the store with who moved */
    moved: ReadonlyMap<string, { displayName: string; data: StoredGroupData; moved: MembersMoved }>;
  },
): SourceResult {
  const fresh = new Map(expanded.groups.map((g) => [g.id, g]));
  const unknownNow = unknownByGroup(expanded.unknown);
  const fileOrder = new Map(files.map((f, i) => [f, i]));
  const ranked = [...heads].map((entry) => {
    const place = changed.places.get(entry[0]) ?? entry[1].data;
    return { entry, file: fileOrder.get(place.file)!, pos: place.pos };
  });
  const order = ranked.sort((a, b) => a.file - b.file || a.pos - b.pos).map((r) => r.entry);
  const warnings: string[] = [];
  const groups = order.map(([id, h]) => {
    for (const m of fresh.has(id) ? (unknownNow.get(id) ?? []) : (h.data.unknown ?? [])) warnings.push(unknownWarning(source, id, m));
    const m = moved.get(id);
    if (m === undefined) return fresh.get(id) ?? directory.stub(id, h.displayName, h.data);
    return Object.defineProperty(directory.stub(id, m.displayName, m.data), 'moved', { value: m.moved });
  });
  return { source, groups, listingComplete: true, warnings, version };
}

export function unknownWarning(source: string, group: string, member: string): string {
  return `file source ${source}: group ${group} lists unknown member ${member}`;
}

/** a file of the directory, with its content and its users' digest when it was read now */
interface ListedFile {
  stamp: FileStamp;
  bytes?: Buffer;
  content?: FileContent;
  usersDigest: string | undefined;
}

/**
 * Whether the users come to sit all in one JSON file laid out plainly, which a whole read keeps as
 * bytes from then on: one read now that is so, or one unchanged that was not the only file listing
 * users at the last read
 */
function comesToOneUsersFile(files: readonly ListedFile[], cursor: StoredCursor): boolean {
  if (cursor.usersFile !== undefined) return false;
  const listing = files.filter((f) => (f.content ? f.content.users.length > 0 : cursor.users[f.stamp.file] !== undefined));
  if (listing.length !== 1) return false;
  const only = listing[0]!;
  if (only.content) return plainUsersFile([{ file: only.stamp.file, bytes: only.bytes!, content: only.content }]) !== undefined;
  return Object.keys(cursor.users).length > 1;
}

/**
 * The groups of the changed files that differ from the stored ones, and the users that changed when
 * a file's users did (directory-users.ts); undefined when a file changed in a way this cannot follow
 */
function changedGroups(
  source: string,
  reads: SourceReads,
  checked: readonly ReturnType<typeof recheck>[],
  heads: ReadonlyMap<string, Head>,
  cursor: StoredCursor,
  keptBytes: () => KeptBytes | undefined,
): Changed | undefined {
  const out: Changed = { groups: new Map(), places: new Map() };
  const byFile = new Map<string, string[]>();
  for (const [id, h] of heads) (byFile.get(h.data.file) ?? byFile.set(h.data.file, []).get(h.data.file)!).push(id);
  const files: ListedFile[] = [];
  let usersChanged = false;
  for (const { stamp, read } of checked) {
    if (!read) {
      files.push({ stamp, usersDigest: undefined });
      continue;
    }
    if (read.file === cursor.usersFile) {
      // the one file of users, followed by its bytes as a single JSON file's users are; listing no
      // one now, it is no file of users to a whole read, which is left to say so to the store
      const spans = usersSpansOf(read.bytes);
      const users = spans && spans.userElements.length > 0 ? usersSinceKept(read.bytes, spans, cursor, keptBytes) : undefined;
      if (users === undefined) return undefined;
      if (users) out.users = users;
      continue;
    }
    const content = parseFile(source, read);
    const digest = usersDigest(content.users);
    if (digest === undefined || !wellFormed(content) || (cursor.usersFile !== undefined && content.users.length > 0)) return undefined;
    files.push({ stamp, bytes: read.bytes, content, usersDigest: digest });
    if (digest !== (cursor.users[read.file] ?? usersDigest([]))) usersChanged = true;
    const before = new Set(byFile.get(read.file) ?? []);
    const ids = content.groups.map((g) => g.id);
    if (new Set(ids).size !== ids.length || ids.length !== before.size || ids.some((id) => !before.has(id))) return undefined;
    const stored = reads.someGroups(source, ids);
    for (const [pos, g] of content.groups.entries()) {
      const was = stored.get(g.id);
      if (!was) return undefined;
      const same = was.displayName === g.displayName && heads.get(g.id)!.data.pos === pos && sameIds(was.members, g.members);
      if (same) continue;
      out.groups.set(g.id, g);
      out.places.set(g.id, { file: read.file, pos });
    }
  }
  if (comesToOneUsersFile(files, cursor)) return undefined;
  if (usersChanged) {
    const users = changedDirectoryUsers({ source, reads, files, cursor });
    if (!users) return undefined;
    out.users = users;
  }
  return out;
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** these groups and, transitively, every group that lists one of them */
function withNesting(changed: readonly string[], heads: ReadonlyMap<string, Head>): string[] {
  const parents = new Map<string, string[]>();
  for (const [id, h] of heads) for (const child of h.nested) (parents.get(child) ?? parents.set(child, []).get(child)!).push(id);
  const out = new Set(changed);
  for (const id of out) for (const p of parents.get(id) ?? []) out.add(p);
  return [...out];
}
