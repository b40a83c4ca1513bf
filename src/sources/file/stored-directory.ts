import { PermanentError } from '../../errors.js';
import { groupKey } from '../../group-key.js';
import type { SourceReads } from '../../store/source-reads.js';
import { expandGroups, type FlatGroup } from '../expand.js';
import type { DesiredGroup, SourceUser } from '../types.js';
import { sourceUserOf, type FileUserRecord } from './format.js';
import type { StoredGroupData } from './stored.js';

/**
 * Groups expanded from the store, with the groups of the files read now in place of their stored
 * form. A user is read from the store once, and is one object in every group that has them; a
 * group's member ids are read once, and a group once expanded is not expanded again.
 */
export class StoredDirectory {
  private readonly users = new Map<string, SourceUser | null>();
  /** the groups read so far, as listed (member ids) */
  private readonly listed = new Map<string, FlatGroup>();
  private readonly expanded = new Map<string, SourceUser[]>();
  /** the source's version the stubs were answered at: their members are read only while it holds */
  private version?: number;

  constructor(
    private readonly reads: SourceReads,
    private readonly source: string,
    private readonly isGroup: (id: string) => boolean,
    private readonly fresh: ReadonlyMap<string, FlatGroup>,
    /** users read now in place of their stored form (null: no longer listed) */
    freshUsers: ReadonlyMap<string, SourceUser | null> = new Map(),
  ) {
    for (const [id, u] of freshUsers) this.users.set(id, u);
  }

  holds(version: number): void {
    this.version = version;
  }

  /** these groups, their nested groups expanded as a whole read does, and the member ids that are neither a user nor a group */
  expand(ids: readonly string[]): { groups: DesiredGroup[]; unknown: [string, string][] } {
    const flats = this.closure(ids);
    const users = new Map<string, SourceUser>();
    for (const g of flats) for (const m of g.members) if (this.users.get(m)) users.set(m, this.users.get(m)!);
    const out = expandGroups(this.source, flats, users);
    for (const g of out.groups) this.expanded.set(g.id, g.members);
    const wanted = new Set(ids);
    return { groups: out.groups.filter((g) => wanted.has(g.id)), unknown: out.unknown.filter(([g]) => wanted.has(g)) };
  }

  /** these users (null: no user has the id), looked up as members are */
  usersOf(ids: readonly string[]): (SourceUser | null)[] {
    this.lookUp(ids);
    return ids.map((id) => this.users.get(id) ?? null);
  }

  /** the member ids of a group expanded already */
  membersOf(id: string): string[] {
    return this.listed.get(id)!.members;
  }

  /** whether a member id looked up already is a group's (a user's id wins, as in a whole read) */
  isNested(id: string): boolean {
    return this.users.get(id) === null && this.isGroup(id);
  }

  /** a group answered from the store: its members are read when first asked for */
  stub(id: string, displayName: string, data: StoredGroupData): DesiredGroup {
    const group = {
      key: groupKey(this.source, id),
      source: this.source,
      id,
      displayName,
      complete: true,
      membersPrint: data.print,
      size: data.size,
    } as DesiredGroup;
    if (data.head !== undefined) Object.defineProperty(group, 'headPrint', { value: data.head });
    Object.defineProperty(group, 'members', {
      enumerable: true,
      configurable: true,
      get: () => {
        const members = this.expanded.get(id) ?? this.reads.atomically(() => this.expandStored(id));
        Object.defineProperty(group, 'members', { value: members, enumerable: true, configurable: true, writable: true });
        return members;
      },
    });
    return group;
  }

  private expandStored(id: string): SourceUser[] {
    if (this.reads.version(this.source) !== this.version)
      throw new PermanentError(`file source ${this.source} was stored anew by another run while this one used it; the next run reads it again`, {
        origin: `file:${this.source}`,
      });
    return this.expand([id]).groups[0]!.members;
  }

  /** the groups these ids reach, listed, with every member id looked up */
  private closure(ids: readonly string[]): FlatGroup[] {
    const flats = new Map<string, FlatGroup>();
    let wave = [...new Set(ids)];
    while (wave.length > 0) {
      const unread = wave.filter((id) => !this.fresh.has(id) && !this.listed.has(id));
      const stored = unread.length > 0 ? this.reads.someGroups(this.source, unread) : new Map();
      for (const id of wave) {
        const g = this.fresh.get(id) ?? this.listed.get(id) ?? stored.get(id);
        if (!g)
          throw new PermanentError(`file source ${this.source}: group ${id} is missing from the store; it is read whole at the next run`, {
            origin: `file:${this.source}`,
          });
        const flat = { id, displayName: g.displayName, members: g.members };
        flats.set(id, flat);
        this.listed.set(id, flat);
      }
      this.lookUp(wave.flatMap((id) => flats.get(id)!.members));
      const next = new Set<string>();
      for (const id of wave) for (const m of flats.get(id)!.members) if (this.isNested(m) && !flats.has(m)) next.add(m);
      wave = [...next];
    }
    return [...flats.values()];
  }

  private lookUp(ids: readonly string[]): void {
    const missing = new Set<string>();
    for (const id of ids) if (!this.users.has(id)) missing.add(id);
    if (missing.size === 0) return;
    const found = this.reads.someUsersParsed(this.source, [...missing]);
    for (const id of missing) {
      const data = found.get(id);
      this.users.set(id, data === undefined ? null : sourceUserOf(data as FileUserRecord));
    }
  }
}
