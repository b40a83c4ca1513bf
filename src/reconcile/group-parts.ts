import type { Backend } from '../backends/types.js';
import type { Config } from '../config/schema.js';
import type { GroupRefs } from '../mapping/map.js';
import type { UserIds } from '../members/user-ids.js';
import type { DesiredGroup, SourceUser } from '../sources/types.js';
import { refsText, type GroupPart } from '../store/group-parts.js';
import type { Store } from '../store/store.js';
import { VERSION } from '../version.js';

/**
 * The identity rule as a part names it, when a user's backend id is a function of the user alone:
 * their attribute, in the backend's id form, as this version writes it. Undefined when it also
 * depends on what the backend or a cache says now (handles looked up, ids verified), so that a part
 * could go stale unseen.
 */
export function partIdentity(config: Config, backend: Backend): string | undefined {
  if (config.identity.lookup !== 'none' || (backend.knownUsers && backend.capabilities.verifyUserIds)) return undefined;
  return JSON.stringify([VERSION, backend.idForm?.() ?? backend.id, config.identity.from]);
}

/** the stored parts of the groups read as members that came and went (read before the snapshot, which must name their numbers) */
export function storedParts(store: Store, groups: readonly DesiredGroup[], identity: string | undefined): Map<string, GroupPart> {
  const moved = groups.filter((g) => g.moved !== undefined && asRead(g)).map((g) => g.key);
  return moved.length === 0 || identity === undefined ? new Map() : store.parts.some(moved, identity);
}

/** the user numbers the parts hold, whose ids the snapshot must read */
export function partNumbers(parts: ReadonlyMap<string, GroupPart>): Int32Array[] {
  return [...parts.values()].map((p) => p.refs);
}

/**
 * What a plan takes from the stored parts and leaves to store: the numbers of the groups whose
 * members only came and went since a part was resolved at their print before (the part, less
 * those who left, with those who came), and each group's part as mapping resolved it.
 */
export class PlanParts implements GroupRefs {
  private readonly known = new Map<string, Int32Array>();
  /** the parts found in this plan, numbered in `users` */
  readonly found = new Map<string, GroupPart>();

  constructor(private readonly users: UserIds) {}

  /**
   * Starts the groups read as moved members from their stored parts (`storedParts`, their numbers
   * named in `users`). Who moved is numbered by the store (`numbersOf`): one query for all of them,
   * where a look-up in `users` would first index every id the snapshot read.
   */
  load(
    groups: readonly DesiredGroup[],
    stored: ReadonlyMap<string, GroupPart>,
    resolve: (user: SourceUser) => string | undefined,
    numbersOf: (ids: readonly string[]) => ReadonlyMap<string, number>,
  ): this {
    const usable = groups.flatMap((g) => {
      const part = stored.get(g.key);
      if (part === undefined || g.moved === undefined || !asRead(g) || part.print !== g.moved.before || part.unresolved !== 0) return [];
      const ids = (users: readonly SourceUser[]) => users.filter((u) => u.active).map(resolve);
      return [{ key: g.key, part: part.refs, left: ids(g.moved.left), came: ids(g.moved.came) }];
    });
    if (usable.length === 0) return this;
    const numbers = numbersOf([...new Set(usable.flatMap((u) => [...u.left, ...u.came]).filter((id) => id !== undefined))]);
    for (const u of usable) {
      const refs = this.movedRefs(u.part, u.left, u.came, numbers);
      if (refs) this.known.set(u.key, refs);
    }
    return this;
  }

  /** how many groups it starts from a part */
  get used(): number {
    return this.known.size;
  }

  of = (group: DesiredGroup): Int32Array | undefined => (asRead(group) ? this.known.get(group.key) : undefined);

  resolved = (group: DesiredGroup, part: { refs: Int32Array; unresolved: number }): void => {
    if (group.membersPrint === undefined || !asRead(group)) return;
    this.found.set(group.key, { print: group.membersPrint, unresolved: part.unresolved, refs: part.refs });
  };

  /**
   * The part less one number for each member who left, with one for each who came (their backend
   * ids; undefined: resolved to nothing); undefined when one of them resolves to nothing (a warning
   * a plan of every member would give), one who left is not in it, or a number of it is not named:
   * the group's members are then read and resolved
   */
  private movedRefs(
    part: Int32Array,
    left: readonly (string | undefined)[],
    came: readonly (string | undefined)[],
    numbers: ReadonlyMap<string, number>,
  ): Int32Array | undefined {
    for (const ref of part) if (!this.users.named(ref)) return undefined;
    const refs = new Int32Array(part.length + came.length);
    refs.set(part);
    let n = part.length;
    for (const id of left) {
      // a part holds the store's numbers only, each named here: one who left and has none is not in it
      const ref = id === undefined ? undefined : numbers.get(id);
      const at = ref === undefined || !this.users.named(ref) || this.users.name(ref) !== id ? -1 : refs.subarray(0, n).indexOf(ref);
      if (at < 0) return undefined;
      refs[at] = refs[--n]!;
    }
    for (const id of came) {
      if (id === undefined) return undefined;
      const stored = numbers.get(id);
      refs[n++] = stored === undefined ? this.users.ref(id) : this.users.storedAs(id, stored);
    }
    return refs.subarray(0, n);
  }
}

/** a group as its source read it: complete, no flag (the guard's copy made unknown has no print or moved members of its own) */
function asRead(g: DesiredGroup): boolean {
  return g.complete && !g.suspect && g.unknownReason === undefined && g.unknownIsReadError === undefined;
}

/**
 * Stores the parts a plan found that the store does not hold as they are (print and numbers), in
 * the store's numbers: a part the store holds under the same print but other numbers (gone wrong)
 * is written again. Parts with an id the store has no number for yet are left out, and their keys
 * returned: `only` those can be saved again after the ops numbered them. After a full plan (`full`),
 * the parts of groups no longer read, or of another identity rule, are forgotten.
 */
export function saveParts(store: Store, identity: string, parts: PlanParts, users: UserIds, opts: { full: boolean; only?: ReadonlySet<string> }): Set<string> {
  const keys = opts.only ? [...opts.only] : [...parts.found.keys()];
  const stored = store.parts.stored(identity, opts.full && !opts.only ? undefined : keys);
  // numbers given in memory (ids the store had no number for when the plan began): the store's now, if the ops numbered them
  const inMemory: string[] = [];
  for (let ref = users.stored + 1; ref < users.size; ref++) if (users.named(ref)) inMemory.push(users.name(ref));
  const numbers = store.parts.numbersOf(inMemory);
  const storeRefOf = new Int32Array(users.size);
  for (let ref = 1; ref < users.size; ref++) storeRefOf[ref] = ref <= users.stored ? ref : users.named(ref) ? (numbers.get(users.name(ref)) ?? 0) : 0;
  const kept = new Map<string, GroupPart>();
  const unnumbered = new Set<string>();
  for (const key of keys) {
    const p = parts.found.get(key);
    if (p === undefined) continue;
    const refs = p.refs.map((ref) => storeRefOf[ref]!);
    if (refs.includes(0)) unnumbered.add(key);
    else if (stored.get(key)?.print !== p.print || stored.get(key)?.refs !== refsText(refs)) kept.set(key, { ...p, refs });
  }
  const prune = opts.full && !opts.only && (store.parts.count() !== stored.size || [...stored.keys()].some((k) => !parts.found.has(k)));
  if (kept.size > 0 || prune) store.parts.save(kept, identity, prune ? [...parts.found.keys()] : undefined);
  return unnumbered;
}
