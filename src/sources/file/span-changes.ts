import { statSync } from 'node:fs';
import type { KeptBytes } from '../../store/kept-bytes.js';
import type { FlatGroup } from '../expand.js';
import type { Changed, Head } from './read-changes.js';
import { unchangedSinceStamped, type FileStamp, type recheck } from './fingerprint.js';
import { plainDirectory } from './format.js';
import { spanDigest, spansOf, type KnownList } from './spans.js';
import { wellFormed, type StoredCursor } from './stored.js';
import { streamedSpans } from './streamed-spans.js';
import { usersSinceKept } from './user-changes.js';

/**
 * The groups of a single JSON file whose bytes differ from those stored, parsed, and the users that
 * differ (user-changes.ts); undefined when the users cannot be told apart that way, or a group is
 * added, removed or moved, or anything is not laid out plainly
 */
export function changedSpans(
  checked: readonly ReturnType<typeof recheck>[],
  heads: ReadonlyMap<string, Head>,
  cursor: StoredCursor,
  keptBytes: () => KeptBytes | undefined,
  /** the users' bytes kept, by digest and length: where they are those of the store's users, a list of the same bytes is not scanned */
  kept: KnownList | undefined,
): Changed | undefined {
  if (checked.length !== 1) return undefined;
  const out: Changed = { groups: new Map(), places: new Map() };
  const read = checked[0]!.read;
  if (!read) return out;
  const spans = spansOf(read.bytes, kept?.digest === cursor.usersBytes ? kept : undefined);
  if (!spans || spans.groups.length !== heads.size) return undefined;
  const users = usersSinceKept(read.bytes, spans, cursor, keptBytes);
  if (users === undefined) return undefined;
  if (users) out.users = users;
  const atPos = placesOf(heads, read.file);
  if (!atPos) return undefined;
  for (const [pos, span] of spans.groups.entries()) {
    const digest = spanDigest(read.bytes, span);
    if (atPos[pos] !== undefined && digest === heads.get(atPos[pos])!.data.span) continue;
    if (!differing(out, read.bytes.toString('utf8', span[0], span[1]), atPos[pos], { file: read.file, pos, span: digest })) return undefined;
  }
  return out;
}

/**
 * The same, of a file whose users list is the one kept (its bytes unchanged), read in pieces
 * (streamed-spans.ts) rather than whole, with the stamp of that read. Undefined when the pieces
 * cannot tell (the users changed, the file is not laid out plainly): the file is then read whole
 * and compared as before. `changed` undefined when they tell that a group was added, removed or
 * moved: the directory is then read whole, without this file being compared a second time.
 */
export function streamedChanges(
  file: string,
  was: FileStamp,
  heads: ReadonlyMap<string, Head>,
  cursor: StoredCursor,
  kept: KnownList | undefined,
): { stamp: FileStamp; changed: Changed | undefined } | undefined {
  const atPos = placesOf(heads, file);
  if (kept === undefined || kept.digest !== cursor.usersBytes || !atPos) return undefined;
  const out: Changed = { groups: new Map(), places: new Map() };
  if (was.file === file && unchangedSinceStamped(file, was, new Map(), statSync(file, { bigint: true }))) return { stamp: was, changed: out };
  const read = streamedSpans(file, kept, (pos) => atPos[pos] && heads.get(atPos[pos])!.data.span);
  if (!read) return undefined;
  if (read.groups !== heads.size) return { stamp: read.stamp, changed: undefined };
  for (const { pos, digest, text } of read.differing) {
    if (!differing(out, text, atPos[pos], { file, pos, span: digest })) return { stamp: read.stamp, changed: undefined };
  }
  return { stamp: read.stamp, changed: out };
}

/** which group stood at each place of the file at the last read, or undefined when not all are known there */
function placesOf(heads: ReadonlyMap<string, Head>, file: string): (string | undefined)[] | undefined {
  const atPos: (string | undefined)[] = [];
  for (const [id, { data }] of heads) {
    if (data.file !== file || data.span === undefined || atPos[data.pos] !== undefined) return undefined;
    atPos[data.pos] = id;
  }
  return atPos;
}

/** a group whose bytes differ, taken into `out` if it is the one that stood at its place; false if not */
function differing(out: Changed, text: string, id: string | undefined, place: { file: string; pos: number; span: string }): boolean {
  const group = groupOf(text);
  if (id === undefined || group?.id !== id || !wellFormed({ users: [], groups: [group] })) return false;
  // bytes that differ and say the same (spacing) are stored anew too, with their digest
  out.groups.set(id, group);
  out.places.set(id, place);
  return true;
}

/** one group of a file as a whole read takes it, or undefined when only the schema can say what it is */
function groupOf(text: string): FlatGroup | undefined {
  try {
    return plainDirectory({ groups: [JSON.parse(text) as unknown] })?.groups[0];
  } catch {
    return undefined;
  }
}
