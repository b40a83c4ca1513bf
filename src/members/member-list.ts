import { UserIds } from './user-ids.js';

/** Who put a member into a conversation, as far as the store knows. */
export type MemberOrigin = 'convsync' | 'external' | 'self';

/** code-unit order: what `<` compares, and what the plan's stable order is made of */
export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const NONE: ReadonlyMap<number, MemberOrigin> = new Map();

/**
 * The members of one conversation, wanted or known: the numbers of their user ids (see UserIds),
 * sorted, and the origin of the few not added by convsync. A large directory means a million
 * members per run: typed arrays of numbers make the plan a merge of two sorted lists, with no
 * string, map entry or object per member.
 */
export class MemberList {
  private sortedIds: readonly string[] | undefined;

  private constructor(
    readonly users: UserIds,
    /** ascending, unique */
    readonly refs: Int32Array,
    /** members not added by convsync, with their origin */
    private readonly otherOrigins: ReadonlyMap<number, MemberOrigin>,
  ) {}

  static readonly empty = new MemberList(UserIds.empty(), new Int32Array(0), NONE);

  /** numbers in any order, repeats allowed (the array is sorted in place) */
  static fromRefs(users: UserIds, refs: Int32Array, others: ReadonlyMap<number, MemberOrigin> = NONE): MemberList {
    // most conversations have no member added by hand: one shared empty map for them all
    return new MemberList(users, sortedUniqueRefs(refs), others.size === 0 ? NONE : others);
  }

  /** from ids in any order and the origins that are not `convsync`, numbered in `users` */
  static of(ids: readonly string[], others: readonly (readonly [string, MemberOrigin])[] = [], users = UserIds.empty()): MemberList {
    const refs = Int32Array.from(ids, (id) => users.ref(id));
    const notOurs = new Map<number, MemberOrigin>();
    for (const [id, origin] of others) if (origin !== 'convsync') notOurs.set(users.ref(id), origin);
    return MemberList.fromRefs(users, refs, notOurs);
  }

  static fromRecord(record: Record<string, MemberOrigin>, users?: UserIds): MemberList {
    return MemberList.of(Object.keys(record), Object.entries(record), users);
  }

  get size(): number {
    return this.refs.length;
  }

  /** the ids, sorted in code-unit order (made on first use: the plan itself works on numbers) */
  get ids(): readonly string[] {
    return (this.sortedIds ??= namesOf(this.users, this.refs));
  }

  hasRef(ref: number): boolean {
    const refs = this.refs;
    let lo = 0;
    let hi = refs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = refs[mid]!;
      if (v === ref) return true;
      if (v < ref) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  has(id: string): boolean {
    const ref = this.users.find(id);
    return ref !== undefined && this.hasRef(ref);
  }

  originOf(ref: number): MemberOrigin | undefined {
    return this.otherOrigins.get(ref) ?? (this.hasRef(ref) ? 'convsync' : undefined);
  }

  origin(id: string): MemberOrigin | undefined {
    const ref = this.users.find(id);
    return ref === undefined ? undefined : this.originOf(ref);
  }

  /** the members convsync did not add, with their origin, sorted */
  others(): [string, MemberOrigin][] {
    return [...this.otherOrigins].map(([ref, o]): [string, MemberOrigin] => [this.users.name(ref), o]).sort((a, b) => byCodeUnit(a[0], b[0]));
  }

  toRecord(): Record<string, MemberOrigin> {
    const others = new Map(this.others());
    return Object.fromEntries(this.ids.map((id) => [id, others.get(id) ?? 'convsync']));
  }

  /** the same members numbered in `users` (itself when they already are) */
  in(users: UserIds): MemberList {
    return users === this.users ? this : MemberList.of(this.ids, this.others(), users);
  }
}

/** two lists numbered alike: as they are when they share a table (the daemon's case), else both renumbered in a new one */
export function alike(a: MemberList, b: MemberList): [MemberList, MemberList] {
  if (a.users === b.users || a.size === 0 || b.size === 0) return [a, b];
  const users = UserIds.empty();
  return [a.in(users), b.in(users)];
}

/** the ids of some numbers, sorted in code-unit order */
export function namesOf(users: UserIds, refs: ArrayLike<number>): string[] {
  return Array.from(refs, (r) => users.name(r)).sort(byCodeUnit);
}

/** ascending and without repeats: the array itself when it already is (checked in one pass), else sorted in place */
export function sortedUniqueRefs(refs: Int32Array): Int32Array {
  let sorted = true;
  for (let i = 1; i < refs.length && sorted; i++) sorted = refs[i - 1]! < refs[i]!;
  if (sorted) return refs;
  refs.sort();
  let n = 0;
  for (let i = 0; i < refs.length; i++) if (n === 0 || refs[i] !== refs[n - 1]) refs[n++] = refs[i]!;
  return refs.subarray(0, n);
}

/** `wanted` against `current` (both ascending): who is missing, who is extra; one merge pass */
export function diffRefs(wanted: Int32Array, current: Int32Array): { missing: number[]; extra: number[] } {
  const missing: number[] = [];
  const extra: number[] = [];
  let i = 0;
  let j = 0;
  while (i < wanted.length && j < current.length) {
    const w = wanted[i]!;
    const c = current[j]!;
    if (w === c) {
      i++;
      j++;
    } else if (w < c) {
      missing.push(w);
      i++;
    } else {
      extra.push(c);
      j++;
    }
  }
  for (; i < wanted.length; i++) missing.push(wanted[i]!);
  for (; j < current.length; j++) extra.push(current[j]!);
  return { missing, extra };
}
