import type { MemberOrigin } from './types.js';

/** code-unit order: what `<` compares, and what the plan's stable order is made of */
export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const NONE: ReadonlyMap<string, MemberOrigin> = new Map();

/**
 * The members of one conversation as the store knows them: the ids sorted, and the origin of the
 * few not added by convsync. A large directory means a million of these per run: sorted arrays make
 * the plan a merge of two sorted lists, with no map entry or property per member.
 */
export class MemberList {
  private constructor(
    /** sorted (code-unit order), unique */
    readonly ids: readonly string[],
    /** members not added by convsync, with their origin */
    private readonly otherOrigins: ReadonlyMap<string, MemberOrigin>,
  ) {}

  static readonly empty = new MemberList([], NONE);

  /** from ids in any order (sorted here if they are not already) and the origins that are not `convsync` */
  static of(ids: string[], others: readonly (readonly [string, MemberOrigin])[] = []): MemberList {
    const list = sortedUnique(ids);
    // most conversations have no member added by hand: one shared empty map for them all
    const notOurs = others.filter(([, o]) => o !== 'convsync');
    return new MemberList(list, notOurs.length === 0 ? NONE : new Map(notOurs));
  }

  static fromRecord(record: Record<string, MemberOrigin>): MemberList {
    return MemberList.of(Object.keys(record), Object.entries(record));
  }

  get size(): number {
    return this.ids.length;
  }

  has(id: string): boolean {
    let lo = 0;
    let hi = this.ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.ids[mid]!;
      if (v === id) return true;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  origin(id: string): MemberOrigin | undefined {
    return this.otherOrigins.get(id) ?? (this.has(id) ? 'convsync' : undefined);
  }

  /** the members convsync did not add, with their origin, sorted */
  others(): [string, MemberOrigin][] {
    return [...this.otherOrigins].sort((a, b) => byCodeUnit(a[0], b[0]));
  }

  *entries(): IterableIterator<[string, MemberOrigin]> {
    for (const id of this.ids) yield [id, this.otherOrigins.get(id) ?? 'convsync'];
  }

  toRecord(): Record<string, MemberOrigin> {
    return Object.fromEntries(this.entries());
  }
}

/**
 * Ids sorted in code-unit order and without repeats: the array itself when it already is (the usual
 * case, checked in one pass), else a sorted copy. An array sorted once costs less than a Set.
 */
export function sortedUnique(ids: readonly string[]): string[] {
  let sorted = true;
  for (let i = 1; i < ids.length && sorted; i++) sorted = ids[i - 1]! < ids[i]!;
  if (sorted) return ids as string[];
  const out = [...ids].sort(byCodeUnit);
  let n = 0;
  for (let i = 0; i < out.length; i++) if (n === 0 || out[i] !== out[n - 1]) out[n++] = out[i]!;
  out.length = n;
  return out;
}

/** `wanted` (sorted, unique) against `current`: who is missing, who is extra; one merge pass */
export function diffSorted(wanted: readonly string[], current: readonly string[]): { missing: string[]; extra: string[] } {
  const missing: string[] = [];
  const extra: string[] = [];
  let i = 0;
  let j = 0;
  while (i < wanted.length || j < current.length) {
    const w = wanted[i];
    const c = current[j];
    // equal is the common case (a run with few changes): one comparison, not two
    if (w === c) {
      i++;
      j++;
    } else if (c === undefined || (w !== undefined && w < c)) {
      missing.push(w!);
      i++;
    } else {
      extra.push(c);
      j++;
    }
  }
  return { missing, extra };
}
