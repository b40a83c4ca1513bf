/**
 * Backend user ids numbered 1, 2, 3…. A large directory names each user in many conversations: the
 * plan sorts and merges integers where it would otherwise compare a million strings, and the store
 * keeps each id once (table `user_ids`, same numbers). Ids met only in the directory get the next
 * numbers, in memory. Within one load a number means one id; across loads it can change only when
 * ids of one person are merged (the highest number freed may be given again), which is why writers
 * drop the numbers they cached when another connection committed.
 */
export class UserIds {
  private byName: Map<string, number> | undefined;

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
    return new UserIds([undefined, ...ids], ids.length);
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
    return this.index().get(id);
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
