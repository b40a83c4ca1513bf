import { createHash, hash, type Hash } from 'node:crypto';
import { readSync } from 'node:fs';
import { stamped, type FileStamp } from './fingerprint.js';
import { CLOSE_BRACE, CLOSE_BRACKET, COLON, COMMA, endOfValue, keyAt, OPEN_BRACE, OPEN_BRACKET, skipSpace, type KnownList } from './spans.js';

/** a single JSON directory file read in pieces, as far as a run that follows it by its groups' bytes needs it */
export interface StreamedFile {
  stamp: FileStamp;
  /** how many groups the file lists */
  groups: number;
  /** the groups whose bytes differ from those stored at their place: where, the digest of their bytes, their text */
  differing: { pos: number; digest: string; text: string }[];
}

/**
 * A piece of a file at a time, in one buffer a process keeps: a new process read 18 MB into fresh
 * memory and hashed it in 0.1 s on this kind of machine, the same bytes 256 KiB at a time in
 * 0.02 s. The buffer grows to hold a group larger than it.
 */
const PIECE = 256 * 1024;
let reusable: Buffer | undefined;

class Pieces {
  bytes: Buffer;
  /** the bytes of `bytes` that hold the file, from its start */
  length = 0;
  atEnd = false;
  readonly sha256 = createHash('sha256');

  constructor(
    private readonly fd: number,
    piece: number,
  ) {
    this.bytes = piece === PIECE ? (reusable ??= Buffer.allocUnsafeSlow(PIECE)) : Buffer.allocUnsafeSlow(piece);
  }

  /**
   * Keeps the bytes from `from` on, at the start of the buffer, and fills the rest (a file system
   * may answer a read short: a group is then scanned again only once the buffer is full); false at
   * the end of the file
   */
  more(from: number): boolean {
    const kept = this.length - from;
    if (kept === this.bytes.length) {
      const larger = Buffer.allocUnsafeSlow(this.bytes.length * 2);
      this.bytes.copy(larger, 0, from, this.length);
      this.bytes = larger;
    } else this.bytes.copyWithin(0, from, this.length);
    this.length = kept;
    let n = -1;
    while (this.length < this.bytes.length && n !== 0) {
      n = readSync(this.fd, this.bytes, this.length, this.bytes.length - this.length, null);
      this.sha256.update(this.bytes.subarray(this.length, this.length + n));
      this.length += n;
    }
    this.atEnd = n === 0;
    return this.length > kept;
  }

  /** where the whitespace from `i` ends: an index in the buffer, which may have moved on */
  space(i: number): number {
    for (;;) {
      const j = skipSpace(this.bytes, i, this.length);
      if (j < this.length) return j;
      if (!this.more(j)) return this.length;
      i = 0;
    }
  }
}

/**
 * The file read in pieces: its stamp (as `readStamped` gives it), how many groups it lists, and
 * those whose bytes differ from the digest stored for their place. Its users list must be the one
 * `knownUsers` names (the same bytes as at the last read): it is hashed, not split into users.
 * Undefined when the file is not laid out as `spansOf` follows it, or its users list differs: it is
 * then read whole.
 */
export function streamedSpans(
  file: string,
  knownUsers: KnownList,
  storedDigest: (pos: number) => string | undefined,
  /** the bytes read at a time (a test reads a few, to cross every boundary) */
  piece = PIECE,
): StreamedFile | undefined {
  const read = stamped(file, (fd) => {
    const pieces = new Pieces(fd, piece);
    pieces.more(0);
    const found = scan(pieces, knownUsers, storedDigest);
    if (!found) return undefined;
    // a buffer grown for a large group is kept for the next read, where it is likely there again (not
    // for a file refused: a string left open grows it to the rest of the file)
    if (piece === PIECE && pieces.bytes.length > PIECE) reusable = pieces.bytes;
    // the scan read to the end of the file: bytes written after it are neither scanned nor hashed,
    // so the stamp names the bytes used, and the file, grown, no longer matches it
    return { sha256: pieces.sha256.digest('hex'), value: found };
  });
  return read && { stamp: read.stamp, ...read.value };
}

/** the top level of the file: `users` and `groups`, each once, and nothing but whitespace after */
function scan(pieces: Pieces, knownUsers: KnownList, storedDigest: (pos: number) => string | undefined): Omit<StreamedFile, 'stamp'> | undefined {
  let i = pieces.space(0);
  if (pieces.bytes[i] !== OPEN_BRACE || i === pieces.length) return undefined;
  let users = false;
  let groups: Omit<StreamedFile, 'stamp'> | undefined;
  for (let first = true; ; first = false) {
    i = pieces.space(i + (first ? 1 : 0));
    if (i === pieces.length) return undefined;
    if (!first) {
      if (pieces.bytes[i] === CLOSE_BRACE) break;
      if (pieces.bytes[i] !== COMMA) return undefined;
      i = pieces.space(i + 1);
    }
    // a key is at most `"groups"`: eight bytes
    while (pieces.length - i < 8 && !pieces.atEnd) {
      pieces.more(i);
      i = 0;
    }
    const key = keyAt(pieces.bytes.subarray(0, pieces.length), i);
    if (key === undefined) return undefined;
    i = pieces.space(key.end);
    if (pieces.bytes[i] !== COLON || i === pieces.length) return undefined;
    i = pieces.space(i + 1);
    if (pieces.bytes[i] !== OPEN_BRACKET || i === pieces.length) return undefined;
    if (key.name === 'users' && !users) {
      const end = knownList(pieces, i, knownUsers);
      if (end === undefined) return undefined;
      [users, i] = [true, end];
    } else if (key.name === 'groups' && groups === undefined) {
      const listed = groupsListed(pieces, i, storedDigest);
      if (listed === undefined) return undefined;
      [groups, i] = [listed, listed.end];
    } else return undefined;
  }
  if (!users || !groups) return undefined;
  if (pieces.space(i + 1) !== pieces.length || !pieces.atEnd) return undefined;
  return { groups: groups.groups, differing: groups.differing };
}

/** where the users list at `i` ends (after its `]`), when its bytes are those known (which end so); undefined if not */
function knownList(pieces: Pieces, i: number, known: KnownList): number | undefined {
  const digest: Hash = createHash('sha1');
  let left = known.length;
  for (;;) {
    const take = Math.min(left, pieces.length - i);
    digest.update(pieces.bytes.subarray(i, i + take));
    left -= take;
    i += take;
    if (left === 0) break;
    if (!pieces.more(i)) return undefined;
    i = 0;
  }
  return digest.digest('base64') === known.digest ? i : undefined;
}

/** the groups list at `i` (its `[`): how many, those whose bytes differ from the stored, and where it ends (after its `]`) */
function groupsListed(
  pieces: Pieces,
  i: number,
  storedDigest: (pos: number) => string | undefined,
): (Omit<StreamedFile, 'stamp'> & { end: number }) | undefined {
  const differing: StreamedFile['differing'] = [];
  i = pieces.space(i + 1);
  if (pieces.bytes[i] === CLOSE_BRACKET && i < pieces.length) return { groups: 0, differing, end: i + 1 };
  for (let pos = 0; ; pos++) {
    if (pieces.bytes[i] !== OPEN_BRACE || i === pieces.length) return undefined;
    let end = endOfValue(pieces.bytes, i, pieces.length);
    // a group that runs past the piece read is read again from its start, with what follows it
    while (end < 0) {
      if (!pieces.more(i)) return undefined;
      i = 0;
      end = endOfValue(pieces.bytes, i, pieces.length);
    }
    const group = pieces.bytes.subarray(i, end);
    const digest = hash('sha1', group, 'base64');
    if (digest !== storedDigest(pos)) differing.push({ pos, digest, text: group.toString('utf8') });
    i = pieces.space(end);
    if (i === pieces.length) return undefined;
    if (pieces.bytes[i] === CLOSE_BRACKET) return { groups: pos + 1, differing, end: i + 1 };
    if (pieces.bytes[i] !== COMMA) return undefined;
    i = pieces.space(i + 1);
  }
}
