import type Database from 'better-sqlite3';
import { mergeRefs, parseRefs } from './member-refs.js';
import { Statements } from './statements.js';
import { MemberList, type MemberOrigin } from '../members/member-list.js';
import { UserIds } from '../members/user-ids.js';

/** ids looked up one at a time before the whole table is read instead */
const WHOLE_TABLE_AFTER = 2_000;

/**
 * The members of the bound conversations, as numbers: each user id once (`user_ids`), each
 * conversation's members in one row of ascending numbers (`member_sets`), and the few that convsync
 * did not add (`member_origins`). Loading a million memberships reads ten thousand short rows.
 */
export class MemberSets {
  /**
   * user id → number, for writes; forgotten when a write fails (its new numbers were rolled back).
   * Ids are looked up one by one until this process has asked for many: a run that changes a few
   * memberships does not read a hundred thousand ids, and a first sync reads them once.
   */
  private refs = new Map<string, number>();
  private whole = false;
  private asked = 0;
  /** the numbering as this connection left it after its last write (`numbering()`): the cached numbers hold while it stays */
  private numberingAfterWrite: string | undefined;
  /**
   * The whole table as last read, ids in number order, and the epoch it was read at: while the epoch
   * stays and its last id still has its number, the table only grew, whoever committed, so a
   * daemon's next run reads just the numbers given since
   */
  private names: { ids: string[]; epoch: number } | undefined;
  private readonly statements: Statements;

  constructor(private readonly db: Database.Database) {
    this.statements = new Statements(db);
  }

  /**
   * The user numbering, and each conversation's members decoded when first asked for. With `only`
   * (a plan of what changed, a scoped run), only the rows of those conversations are read, decoded
   * at once to learn which ids they number, with the ids of the numbers `alsoNumbered` lists.
   */
  load(only?: readonly string[], alsoNumbered: readonly Int32Array[] = []): { users: UserIds; membersOf: (conversationId: string) => MemberList } {
    // one read transaction: the sets, the numbering and the epoch the numbering is kept under
    // are of one state, whatever another connection commits meanwhile
    return this.db.transaction(() => this.loadNow(only, alsoNumbered)).deferred();
  }

  private loadNow(
    only: readonly string[] | undefined,
    alsoNumbered: readonly Int32Array[],
  ): { users: UserIds; membersOf: (conversationId: string) => MemberList } {
    const origins = new Map<string, Map<number, MemberOrigin>>();
    const originRows = (
      only
        ? only.flatMap((id) => this.statement(`SELECT conversation_id, user_ref, origin FROM member_origins WHERE conversation_id = ?`).raw().all(id))
        : this.db.prepare(`SELECT conversation_id, user_ref, origin FROM member_origins`).raw().all()
    ) as [string, number, MemberOrigin][];
    for (const [conversationId, ref, origin] of originRows) {
      let map = origins.get(conversationId);
      if (map === undefined) origins.set(conversationId, (map = new Map()));
      map.set(ref, origin);
    }
    const rows = new Map(
      (only
        ? only.flatMap((id) => this.statement(`SELECT conversation_id, refs FROM member_sets WHERE conversation_id = ?`).raw().all(id))
        : this.db.prepare(`SELECT conversation_id, refs FROM member_sets`).raw().all()) as [string, string][],
    );
    const parsed = only ? new Map([...rows].map(([id, text]) => [id, parseRefs(text)])) : undefined;
    const users = parsed ? this.loadUserIdsOf([...parsed.values(), ...alsoNumbered], originRows) : this.loadUserIds();
    const membersOf = (conversationId: string) => {
      const refs = parsed?.get(conversationId) ?? (parsed ? undefined : rows.get(conversationId));
      if (refs === undefined) return MemberList.empty;
      return MemberList.fromRefs(users, typeof refs === 'string' ? parseRefs(refs) : refs.slice(), origins.get(conversationId));
    };
    return { users, membersOf };
  }

  private loadUserIds(top = this.topRef()): UserIds {
    const epoch = this.epochNow();
    const kept = this.names && this.stillNumbered(this.names, epoch, top) ? this.names.ids : undefined;
    this.names = undefined;
    const base = kept?.length ?? 0;
    const since = this.db.prepare(`SELECT user_id FROM user_ids WHERE ref > ? ORDER BY ref`).pluck().all(base) as string[];
    // merged ids leave gaps: then the numbers of the ids just read, in the same order, place them
    if (base + since.length !== top) {
      const refs = this.db.prepare(`SELECT ref FROM user_ids WHERE ref > ? ORDER BY ref`).pluck().all(base) as number[];
      return UserIds.fromRows([...(kept ?? []).map((id, i) => [i + 1, id] as const), ...refs.map((ref, i) => [ref, since[i]!] as const)], top);
    }
    const ids = kept === undefined ? since : since.length === 0 ? kept : kept.concat(since);
    if (epoch !== undefined) this.names = { ids, epoch };
    return UserIds.fromNames(ids);
  }

  /**
   * The numbering of the ids these conversations have, read by number when they are few beside the
   * highest number (a plan of what changed looks at a few conversations of thousands): ids they do not
   * have are then numbered past the table's highest number, in memory, as ids met only in the directory are
   */
  private loadUserIdsOf(sets: Iterable<Int32Array>, origins: readonly (readonly [string, number, MemberOrigin])[]): UserIds {
    const top = this.topRef();
    // one byte per number up to the highest: fifty thousand memberships are counted without a Set
    const seen = new Uint8Array(top + 1);
    const wanted: number[] = [];
    const want = (ref: number) => {
      if (ref > top || seen[ref] === 1) return;
      seen[ref] = 1;
      wanted.push(ref);
    };
    for (const refs of sets) for (const ref of refs) want(ref);
    for (const [, ref] of origins) want(ref);
    if (wanted.length * 4 > top) return this.loadUserIds(top);
    const rows = this.db.prepare(`SELECT ref, user_id FROM user_ids WHERE ref IN (SELECT value FROM json_each(?))`).raw().all(JSON.stringify(wanted)) as [
      number,
      string,
    ][];
    return UserIds.fromRows(rows, top);
  }

  /**
   * Adds members with an origin (someone already there keeps theirs: added by hand stays
   * `external`) and removes others, rewriting the conversation's row once. Returns the removed
   * members that convsync had added.
   */
  edit(conversationId: string, change: { add?: readonly string[]; origin?: 'convsync' | 'external'; remove?: readonly string[] }): string[] {
    if (!change.add?.length && !change.remove?.length) return [];
    const row = this.statement(`SELECT refs FROM member_sets WHERE conversation_id = ?`).pluck().get(conversationId) as string | undefined;
    const current = new Set(row === undefined ? [] : parseRefs(row));
    let changed = false;
    for (const id of change.add ?? []) {
      const ref = this.refOf(id);
      if (current.has(ref)) continue;
      current.add(ref);
      changed = true;
      if (change.origin === 'external')
        this.statement(`INSERT INTO member_origins (conversation_id, user_ref, origin) VALUES (?, ?, 'external') ON CONFLICT DO NOTHING`).run(
          conversationId,
          ref,
        );
    }
    const ours: string[] = [];
    for (const id of change.remove ?? []) {
      const ref = this.findRef(id);
      if (ref === undefined || !current.delete(ref)) continue;
      changed = true;
      const external = this.statement(`DELETE FROM member_origins WHERE conversation_id = ? AND user_ref = ?`).run(conversationId, ref).changes > 0;
      if (!external) ours.push(id);
    }
    if (!changed) return ours;
    if (current.size === 0) this.clear(conversationId);
    else {
      this.statement(`INSERT INTO member_sets (conversation_id, refs) VALUES (?, ?) ON CONFLICT (conversation_id) DO UPDATE SET refs = excluded.refs`).run(
        conversationId,
        Int32Array.from(current).sort().join(','),
      );
    }
    return ours;
  }

  /**
   * Every stored user id rewritten into the backend's one form (ids stored before it existed, such
   * as `uuid@own-domain`); ids that become one are merged. Returns how many ids changed.
   */
  canonicalize(canonical: (id: string) => string): number {
    const rows = this.db.prepare(`SELECT ref, user_id FROM user_ids ORDER BY ref`).raw().all() as [number, string][];
    const keeperOf = new Map<string, number>();
    const merged = new Map<number, number>();
    const renamed: [number, string][] = [];
    for (const [ref, id] of rows) {
      const c = canonical(id);
      const keeper = keeperOf.get(c);
      if (keeper !== undefined) merged.set(ref, keeper);
      else {
        keeperOf.set(c, ref);
        if (c !== id) renamed.push([ref, c]);
      }
    }
    if (merged.size === 0 && renamed.length === 0) return 0;
    if (merged.size > 0) mergeRefs(this.db, merged);
    for (const [ref, id] of renamed) this.db.prepare(`UPDATE user_ids SET user_id = ? WHERE ref = ?`).run(id, ref);
    this.forgetRefs();
    return merged.size + renamed.length;
  }

  /** the member ids of one conversation */
  idsOf(conversationId: string): string[] {
    const row = this.statement(`SELECT refs FROM member_sets WHERE conversation_id = ?`).pluck().get(conversationId) as string | undefined;
    if (row === undefined) return [];
    const name = this.statement(`SELECT user_id FROM user_ids WHERE ref = ?`).pluck();
    return Array.from(parseRefs(row), (ref) => name.get(ref) as string);
  }

  clear(conversationId: string): void {
    this.statement(`DELETE FROM member_sets WHERE conversation_id = ?`).run(conversationId);
    this.statement(`DELETE FROM member_origins WHERE conversation_id = ?`).run(conversationId);
  }

  /** runs a write that may number new user ids in a transaction of its own; if it fails, the numbers it gave are forgotten with it */
  writing<T>(write: () => T): T {
    // a rollback outside this call would keep the numbers the write gave: it must hold the transaction
    if (this.db.inTransaction) throw new Error('MemberSets.writing must start outside a transaction');
    try {
      return this.db
        .transaction(() => {
          // ids merged or renamed since, or numbered by another connection (a writer before a lease
          // hand-over; a store restored from a copy): a merged id's number may have been given to
          // another, so no cached number is trusted. Told under the write lock: none can come between
          const before = this.numbering();
          if (before === undefined || before !== this.numberingAfterWrite) this.forgetRefs();
          const out = write();
          this.numberingAfterWrite = this.numbering();
          return out;
        })
        .immediate();
    } catch (e) {
      this.forgetRefs();
      this.numberingAfterWrite = undefined;
      throw e;
    }
  }

  private refOf(id: string): number {
    const ref = this.findRef(id);
    if (ref !== undefined) return ref;
    const made = this.statement(`INSERT INTO user_ids (user_id) VALUES (?) RETURNING ref`).pluck().get(id) as number;
    this.refs.set(id, made);
    return made;
  }

  private findRef(id: string): number | undefined {
    if (!this.whole && ++this.asked > WHOLE_TABLE_AFTER) {
      this.refs = new Map(this.db.prepare(`SELECT user_id, ref FROM user_ids`).raw().all() as [string, number][]);
      this.whole = true;
    }
    let ref = this.refs.get(id);
    if (ref === undefined) {
      // not asked for yet, or numbered by another writer since the table was read (the lease changed hands)
      ref = this.statement(`SELECT ref FROM user_ids WHERE user_id = ?`).pluck().get(id) as number | undefined;
      if (ref !== undefined) this.refs.set(id, ref);
    }
    return ref;
  }

  /** the count moved by merges and renames (migration 018); undefined, and nothing cached trusted, in a store that lost it */
  private epochNow(): number | undefined {
    return this.statement(`SELECT n FROM user_ids_epoch`).pluck().get() as number | undefined;
  }

  /** the epoch, the highest number and its id: what a write finds as the last one of this connection left it, unless someone else numbered since */
  private numbering(): string | undefined {
    const epoch = this.epochNow();
    const top = this.statement(`SELECT ref, user_id FROM user_ids ORDER BY ref DESC LIMIT 1`).raw().get() as [number, string] | undefined;
    return epoch === undefined ? undefined : JSON.stringify([epoch, top ?? null]);
  }

  /** ids read before whose numbers still hold: the epoch has not moved and the last of them still has its number (no copy of the store restored since) */
  private stillNumbered(names: { ids: string[]; epoch: number }, epoch: number | undefined, top: number): boolean {
    if (names.epoch !== epoch || names.ids.length > top) return false;
    if (names.ids.length === 0) return true;
    return this.statement(`SELECT user_id FROM user_ids WHERE ref = ?`).pluck().get(names.ids.length) === names.ids.at(-1);
  }

  /** the highest number, not the count of the table: SQLite finds it without reading the table */
  private topRef(): number {
    return this.db.prepare(`SELECT coalesce(max(ref), 0) FROM user_ids`).pluck().get() as number;
  }

  private forgetRefs(): void {
    this.refs = new Map();
    this.whole = false;
    this.asked = 0;
    this.names = undefined;
  }

  private statement(sql: string): Database.Statement {
    return this.statements.get(sql);
  }
}
