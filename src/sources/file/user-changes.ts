import type { KeptBytes } from '../../store/kept-bytes.js';
import { plainDirectory, type FileUserRecord } from './format.js';
import { spanDigest, type Span } from './spans.js';
import { usersDigest, wellFormed, type StoredCursor } from './stored.js';

/**
 * At most this many users are compared; a larger change is read whole. Of a list kept as bytes,
 * the users parsed now and as they were (an edit counts twice); of a directory's files, the users
 * that changed.
 */
export const MOST_USERS_CHANGED = 500;

export interface UserChanges {
  /** users new or whose record differs, as a whole read gives them */
  put: FileUserRecord[];
  /** ids of users no longer listed */
  gone: string[];
  /** ids listed in the bytes that differ now and not in those that differed before: each must be new to the store */
  added: string[];
}

/** a single JSON file's users list as the store keeps it: its bytes, and where each user is in them */
export function keptUsers(bytes: Uint8Array, list: Span, elements: readonly Span[], digest: string): KeptBytes {
  const offsets = new Int32Array(elements.length * 2);
  elements.forEach(([start, end], i) => {
    offsets[2 * i] = start - list[0];
    offsets[2 * i + 1] = end - list[0];
  });
  return { digest, bytes: Buffer.from(bytes.buffer, bytes.byteOffset + list[0], list[1] - list[0]), elements: offsets };
}

/** users found changed, with the cursor and the bytes to keep that say so */
export type FollowedUsers = UserChanges & { cursor: StoredCursor; kept: KeptBytes };

/**
 * The users of a users list kept as bytes (a single JSON file's, a directory's one file of users)
 * that changed since: null when its bytes are those kept, undefined when that cannot be told by
 * the bytes (they are then read whole)
 */
export function usersSinceKept(
  bytes: Buffer,
  spans: { users: Span; userElements: readonly Span[]; usersDigest?: string },
  cursor: StoredCursor,
  keptBytes: () => KeptBytes | undefined,
): FollowedUsers | null | undefined {
  const usersBytes = spans.usersDigest ?? spanDigest(bytes, spans.users);
  if (usersBytes === cursor.usersBytes) return null;
  const kept = keptBytes();
  // the bytes kept must be those of the users the store holds
  const users = kept && kept.digest === cursor.usersBytes ? changedUsers(kept, bytes, spans.users, spans.userElements) : undefined;
  return users && { ...users, cursor: { ...cursor, usersBytes }, kept: keptUsers(bytes, spans.users, spans.userElements, usersBytes) };
}

/**
 * The users of a single JSON file that differ from those of the last read, found by comparing its
 * users list with the bytes the store kept of it. The bytes both begin with and end with are the
 * same users; in between, users are paired by their bytes (see unpairedBetween). Only the users
 * left unpaired are parsed, now and as they were. Undefined when that cannot be told this way
 * (too many users unpaired, a user only the schema can judge, a record JSON text cannot keep, the
 * users' places not as kept): the file is then read whole.
 */
export function changedUsers(kept: KeptBytes, bytes: Buffer, list: Span, elements: readonly Span[]): UserChanges | undefined {
  const now = bytes.subarray(list[0], list[1]);
  const was = kept.bytes;
  const shortest = Math.min(now.length, was.length);
  const head = samePrefix(was, now, shortest);
  const tail = sameSuffix(was, now, shortest - head);
  const before = new Places(was, kept.elements, 0);
  const after = new Places(now, elements, list[0]);
  // the users wholly in the bytes both begin with, and in those both end with, must be the same
  // users at the same places (those at the end shifted alike)
  const first = before.within(head);
  const last = before.from(was.length - tail);
  if (first !== after.within(head) || last !== after.from(now.length - tail)) return undefined;
  const shift = now.length - was.length;
  for (let i = 0; i < first; i++) if (!before.samePlace(i, after, i, 0)) return undefined;
  for (let i = 1; i <= last; i++) if (!before.samePlace(before.count - i, after, after.count - i, shift)) return undefined;
  const unpaired = unpairedBetween(before, after, first, last);
  const old = unpaired && usersIn(was, unpaired.old);
  const fresh = unpaired && usersIn(now, unpaired.fresh);
  if (!old || !fresh || usersDigest(fresh) === undefined || !wellFormed({ users: fresh, groups: [] })) return undefined;
  const oldText = new Map(old.map((u) => [u.id, JSON.stringify(u)]));
  const freshIds = new Set(fresh.map((u) => u.id));
  if (freshIds.size !== fresh.length || oldText.size !== old.length) return undefined;
  return {
    put: fresh.filter((u) => oldText.get(u.id) !== JSON.stringify(u)),
    gone: [...oldText.keys()].filter((id) => !freshIds.has(id)),
    added: [...freshIds].filter((id) => !oldText.has(id)),
  };
}

/** how far ahead, in users, the comparison looks for the next pair after users that differ */
const LOOK_AHEAD = 32;

/**
 * The users between the first and last ones kept (by index) that no user of the same bytes in the
 * other list pairs with. Users of equal bytes are the same user (ids are unique in the list kept,
 * and a user listed twice now is refused by the caller), so a pair is sound wherever it is: pairs
 * are looked for in order, and where the lists do not pair again within a few users, by their bytes
 * in any order over the rest (comparing in place costs a tenth of keying every user by its bytes).
 */
function unpairedBetween(before: Places, after: Places, first: number, last: number): { old: Span[]; fresh: Span[] } | undefined {
  const old: Span[] = [];
  const fresh: Span[] = [];
  const endOld = before.count - last;
  const endNew = after.count - last;
  const paired = (i: number, j: number) => i < endOld && j < endNew && before.sameBytes(i, after, j);
  // two pairs in a row, or a last pair: the lists line up again there, not at a user moved by chance
  const pairsFrom = (i: number, j: number) => paired(i, j) && (paired(i + 1, j + 1) || (i + 1 === endOld && j + 1 === endNew));
  let i = first;
  let j = first;
  while (i < endOld && j < endNew && old.length + fresh.length <= MOST_USERS_CHANGED) {
    if (paired(i, j)) {
      i++;
      j++;
      continue;
    }
    const next = nextPair(i, j, pairsFrom);
    if (!next) return unpairedInAnyOrder(before, after, { i, endOld, j, endNew }, { old, fresh });
    while (i < next.i) old.push(before.span(i++));
    while (j < next.j) fresh.push(after.span(j++));
  }
  return unpairedInAnyOrder(before, after, { i, endOld, j, endNew }, { old, fresh });
}

/** the users of the rest of both lists that no user of the same bytes in the other pairs with, added to those found so far */
function unpairedInAnyOrder(
  before: Places,
  after: Places,
  rest: { i: number; endOld: number; j: number; endNew: number },
  found: { old: Span[]; fresh: Span[] },
): { old: Span[]; fresh: Span[] } | undefined {
  const unpairedOld = new Map<string, number>();
  for (let i = rest.i; i < rest.endOld; i++) unpairedOld.set(before.text(i), i);
  for (let j = rest.j; j < rest.endNew; j++) {
    const text = after.text(j);
    if (unpairedOld.has(text)) unpairedOld.delete(text);
    else if (found.fresh.push(after.span(j)) + found.old.length > MOST_USERS_CHANGED) return undefined;
  }
  for (const i of unpairedOld.values()) found.old.push(before.span(i));
  return found.old.length + found.fresh.length <= MOST_USERS_CHANGED ? found : undefined;
}

/** the nearest places after (i, j), fewest users skipped first, where the two lists pair again */
function nextPair(i: number, j: number, pairsFrom: (i: number, j: number) => boolean): { i: number; j: number } | undefined {
  for (let skipped = 1; skipped <= 2 * LOOK_AHEAD; skipped++) {
    for (let a = Math.max(0, skipped - LOOK_AHEAD); a <= Math.min(skipped, LOOK_AHEAD); a++) {
      if (pairsFrom(i + a, j + skipped - a)) return { i: i + a, j: j + skipped - a };
    }
  }
  return undefined;
}

/** the users of these elements, each as a whole read checks it, or undefined when one is not plain */
function usersIn(bytes: Buffer, spans: Span[]): FileUserRecord[] | undefined {
  try {
    return plainDirectory({ users: spans.map(([s, e]) => JSON.parse(bytes.toString('utf8', s, e)) as unknown) })?.users;
  } catch {
    return undefined;
  }
}

/** the places of a list's elements (start and end, from the list's start), in order */
class Places {
  readonly count: number;

  constructor(
    private readonly bytes: Buffer,
    private readonly at: Int32Array | readonly Span[],
    /** what to take from each offset given */
    private readonly base: number,
  ) {
    this.count = at instanceof Int32Array ? at.length >> 1 : at.length;
  }

  start(i: number): number {
    return (this.at instanceof Int32Array ? this.at[2 * i]! : this.at[i]![0]) - this.base;
  }

  end(i: number): number {
    return (this.at instanceof Int32Array ? this.at[2 * i + 1]! : this.at[i]![1]) - this.base;
  }

  /** how many first elements end by `offset` */
  within(offset: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.end(mid) <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** how many last elements start at or after `offset` */
  from(offset: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.start(mid) >= offset) hi = mid;
      else lo = mid + 1;
    }
    return this.count - lo;
  }

  span(i: number): Span {
    return [this.start(i), this.end(i)];
  }

  samePlace(i: number, other: Places, j: number, shift: number): boolean {
    return other.start(j) === this.start(i) + shift && other.end(j) === this.end(i) + shift;
  }

  /** element i's bytes, one character each: a key equal only for equal bytes */
  text(i: number): string {
    return this.bytes.toString('latin1', this.start(i), this.end(i));
  }

  /** whether element i here and element j of the other list have the same bytes */
  sameBytes(i: number, other: Places, j: number): boolean {
    const [s, e] = [this.start(i), this.end(i)];
    const [t, f] = [other.start(j), other.end(j)];
    return e - s === f - t && this.bytes.compare(other.bytes, t, f, s, e) === 0;
  }
}

/** how many first bytes two buffers share, up to `n` (compared natively, a page at a time) */
function samePrefix(a: Buffer, b: Buffer, n: number): number {
  const PAGE = 4096;
  let i = 0;
  while (i + PAGE <= n && a.compare(b, i, i + PAGE, i, i + PAGE) === 0) i += PAGE;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** how many last bytes two buffers share, up to `n` */
function sameSuffix(a: Buffer, b: Buffer, n: number): number {
  const PAGE = 4096;
  let i = 0;
  while (i + PAGE <= n && a.compare(b, b.length - i - PAGE, b.length - i, a.length - i - PAGE, a.length - i) === 0) i += PAGE;
  while (i < n && a[a.length - 1 - i] === b[b.length - 1 - i]) i++;
  return i;
}
