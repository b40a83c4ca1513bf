/** how many ids `find` looks for by a scan before it indexes every id */
const SCANS_BEFORE_INDEX = 4;

/**
 * Backend user ids numbered 1, 2, 3…. A large directory names each user in many conversations: the
 * plan sorts and merges integers where it would otherwise compare a million strings, and the store
 * keeps each id once (table `user_ids`, same numbers). Ids met only in the directory get the next
 * numbers, in memory. Within one load a number means one id; across loads it can change only when
 * ids of one person are merged (the highest number freed may be given again), which is why writers
 * drop the numbers they cached when ids were merged or renamed, or numbered by another connection.
 */
export class UserIds {
  private byName: Map<string, number> | undefined;
  /** the last id found without the index, and how many ids were */
  private scanned: { id: string; ref: number | undefined } | undefined;
  private scans = 0;

  private constructor(
    /** `names[ref]` is the id numbered `ref`; 0 is never a number */
    private readonly names: (string | undefined)[],
    /** the numbers up to this one are the store's (table `user_ids`); those past it were given in memory */
    readonly stored: number,
  ) {}

  static empty(): UserIds {
    return new UserIds([undefined], 0);
  }

  /** ids numbered 1, 2, 3… in this order */
  static fromNames(ids: readonly string[]): UserIds {
    // concat copies at once where a spread of 100,000 ids cost 20 ms
    return new UserIds([undefined as string | undefined].concat(ids), ids.length);
  }

  /** the store's table as it is, or a part of it (a gap in the numbers is a number without an id); new ids are numbered past `top` */
  static fromRows(rows: Iterable<readonly [number, string]>, top = 0): UserIds {
    const names: (string | undefined)[] = new Array<string | undefined>(top + 1).fill(undefined);
    for (const [ref, id] of rows) names[ref] = id;
    return new UserIds(names, top);
  }

  /** one more than the highest number */
  get size(): number {
    return this.names.length;
  }

  name(ref: number): string {
    const id = this.names[ref];
    if (id === undefined) throw new Error(`no user id numbered ${ref}`);
    return id;
  }

  /** whether the number has an id here (a number of the store's read in, or one given in memory) */
  named(ref: number): boolean {
    return this.names[ref] !== undefined;
  }

  find(id: string): number | undefined {
    if (this.byName !== undefined || this.scans >= SCANS_BEFORE_INDEX) return this.index().get(id);
    // a plan asks for the daemon's own id in every conversation it takes: a few ids are found by
    // a scan, where indexing every id a snapshot read cost a tenth of a second at 100,000 users
    if (this.scanned?.id !== id) {
      this.scans++;
      const at = this.names.indexOf(id, 1);
      this.scanned = { id, ref: at < 0 ? undefined : at };
    }
    return this.scanned.ref;
  }

  /** the number of an id, given the next one if it has none yet */
  ref(id: string): number {
    const index = this.index();
    let ref = index.get(id);
    if (ref === undefined) {
      ref = this.names.length;
      this.names.push(id);
      index.set(id, ref);
    }
    return ref;
  }

  /**
   * The number of an id the store numbers `stored` (`numbersOf`), without building the index of
   * every id read: the id's number here if it has one, else that number, named from now on. A
   * number past `stored`, or one naming another id here, is not the store's now: the id is then
   * numbered as `ref` does. The number must be read from the store as it was when these ids were
   * (no merge of ids in between, which only the lease holder's canonicalisation makes).
   */
  storedAs(id: string, stored: number): number {
    const known = this.byName?.get(id);
    if (known !== undefined) return known;
    const named = this.names[stored];
    if (named === id) return stored;
    if (named !== undefined || !(stored >= 1 && stored <= this.stored)) return this.ref(id);
    // no index yet means no number given in memory: the id has none but this one
    this.names[stored] = id;
    this.byName?.set(id, stored);
    this.scanned = undefined;
    return stored;
  }

  // built on first use: loading a snapshot needs only the names
  private index(): Map<string, number> {
    if (this.byName === undefined) {
      this.byName = new Map();
      for (let ref = 1; ref < this.names.length; ref++) {
        const id = this.names[ref];
        if (id !== undefined) this.byName.set(id, ref);
      }
    }
    return this.byName;
  }
}
