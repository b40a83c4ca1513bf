import type { KeptBytes } from '../../store/kept-bytes.js';
import { plainDirectory, type FileUserRecord } from './format.js';
import type { Span } from './spans.js';
import { usersDigest, wellFormed } from './stored.js';

/** at most this many users are parsed from the bytes that differ; a larger change is read whole */
const MOST_PARSED = 500;

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

/**
 * The users of a single JSON file that differ from those of the last read, found by comparing its
 * users list with the bytes the store kept of it: the bytes both begin with and end with are the
 * same users, so only the users in the bytes between are parsed, now and as they were. Undefined
 * when that cannot be told this way (too many users in between, a user only the schema can judge,
 * a record JSON text cannot keep, the users' places not as kept): the file is then read whole.
 */
export function changedUsers(kept: KeptBytes, bytes: Buffer, list: Span, elements: readonly Span[]): UserChanges | undefined {
  const now = bytes.subarray(list[0], list[1]);
  const was = kept.bytes;
  const shortest = Math.min(now.length, was.length);
  const head = samePrefix(was, now, shortest);
  const tail = sameSuffix(was, now, shortest - head);
  const before = new Places(kept.elements, 0);
  const after = new Places(elements, list[0]);
  // the users wholly in the bytes both begin with, and in those both end with, must be the same
  // users at the same places (those at the end shifted alike): only the others are parsed
  const first = before.within(head);
  const last = before.from(was.length - tail);
  if (first !== after.within(head) || last !== after.from(now.length - tail)) return undefined;
  const shift = now.length - was.length;
  for (let i = 0; i < first; i++) if (!before.same(i, after, i, 0)) return undefined;
  for (let i = 1; i <= last; i++) if (!before.same(before.count - i, after, after.count - i, shift)) return undefined;
  const old = usersIn(was, before.between(first, last));
  const fresh = usersIn(now, after.between(first, last));
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

/** the users of these elements, each as a whole read checks it, or undefined when one is not plain or there are too many */
function usersIn(bytes: Buffer, spans: Span[]): FileUserRecord[] | undefined {
  if (spans.length > MOST_PARSED) return undefined;
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

  same(i: number, other: Places, j: number, shift: number): boolean {
    return other.start(j) === this.start(i) + shift && other.end(j) === this.end(i) + shift;
  }

  /** the elements after the first `first` and before the last `last`, at most one more than parsed */
  between(first: number, last: number): Span[] {
    const out: Span[] = [];
    for (let i = first; i < this.count - last && out.length <= MOST_PARSED; i++) out.push([this.start(i), this.end(i)]);
    return out;
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
