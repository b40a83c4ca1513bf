import type Database from 'better-sqlite3';
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
  /** the table's epoch (migration 018) when the numbers were last trusted: a merge or a rename moves it */
  private epoch: number | undefined;
  /**
   * The whole table as last read, ids in number order, and the epoch it was read at: while the epoch
   * stays, the table only grows, whoever commits, so a daemon's next run reads just the numbers given since
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
    const kept = this.names?.epoch === epoch && this.names.ids.length <= top ? this.names.ids : undefined;
    this.names = undefined;
    const base = kept?.length ?? 0;
    const since = this.db.prepare(`SELECT user_id FROM user_ids WHERE ref > ? ORDER BY ref`).pluck().all(base) as string[];
    // merged ids leave gaps: then the numbers of the ids just read, in the same order, place them
    if (base + since.length !== top) {
      const refs = this.db.prepare(`SELECT ref FROM user_ids WHERE ref > ? ORDER BY ref`).pluck().all(base) as number[];
      return UserIds.fromRows([...(kept ?? []).map((id, i) => [i + 1, id] as const), ...refs.map((ref, i) => [ref, since[i]!] as const)], top);
    }
    const ids = kept === undefined ? since : since.length === 0 ? kept : kept.concat(since);
    this.names = { ids, epoch };
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
    if (merged.size > 0) this.merge(merged);
    for (const [ref, id] of renamed) this.db.prepare(`UPDATE user_ids SET user_id = ? WHERE ref = ?`).run(id, ref);
    this.forgetRefs();
    return merged.size + renamed.length;
  }

  /** refs that are one person folded into one: in every member set, and in who added them */
  private merge(merged: ReadonlyMap<number, number>): void {
    const sets = this.db.prepare(`SELECT conversation_id, refs FROM member_sets`).raw().all() as [string, string][];
    const isExternal = this.db.prepare(`SELECT 1 FROM member_origins WHERE conversation_id = ? AND user_ref = ?`).pluck();
    const dropOrigin = this.db.prepare(`DELETE FROM member_origins WHERE conversation_id = ? AND user_ref = ?`);
    for (const [conversationId, text] of sets) {
      const refs = parseRefs(text);
      if (!refs.some((r) => merged.has(r))) continue;
      const present = new Set(refs);
      for (const old of refs) {
        const keeper = merged.get(old);
        if (keeper === undefined) continue;
        const oldExternal = isExternal.get(conversationId, old) !== undefined;
        if (!present.has(keeper)) {
          // the keeper takes the place of the old form here, and who added them with it
          if (oldExternal)
            this.statement(`INSERT INTO member_origins (conversation_id, user_ref, origin) VALUES (?, ?, 'external') ON CONFLICT DO NOTHING`).run(
              conversationId,
              keeper,
            );
        } else if (!oldExternal) {
          // both forms here: added by convsync under either means added by convsync (managed removal applies)
          dropOrigin.run(conversationId, keeper);
        }
      }
      const next = Int32Array.from(new Set(Array.from(refs, (r) => merged.get(r) ?? r))).sort();
      this.statement(`UPDATE member_sets SET refs = ? WHERE conversation_id = ?`).run(next.join(','), conversationId);
    }
    for (const old of merged.keys()) {
      this.db.prepare(`DELETE FROM member_origins WHERE user_ref = ?`).run(old);
      this.db.prepare(`DELETE FROM user_ids WHERE ref = ?`).run(old);
    }
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

  /** runs a write transaction that may number new user ids; if it fails, the numbers it gave are forgotten with it */
  writing<T>(write: () => T): T {
    // a rollback outside this call would keep the numbers the write gave: it must hold the transaction
    if (this.db.inTransaction) throw new Error('MemberSets.writing must start outside a transaction');
    // ids merged or renamed since, by any connection (a writer before a lease hand-over): a merged
    // id's number may have been given to another, so no cached number is trusted
    const epoch = this.epochNow();
    if (epoch !== this.epoch) {
      this.forgetRefs();
      this.epoch = epoch;
    }
    try {
      return write();
    } catch (e) {
      this.forgetRefs();
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

  private epochNow(): number {
    return this.statement(`SELECT n FROM user_ids_epoch`).pluck().get() as number;
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

/** "3,17,42" → numbers, without a string per number */
function parseRefs(text: string): Int32Array {
  let count = text.length === 0 ? 0 : 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 44) count++;
  const refs = new Int32Array(count);
  let n = 0;
  let v = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 44) {
      refs[n++] = v;
      v = 0;
    } else if (ch >= 48 && ch <= 57) v = v * 10 + ch - 48;
    else throw new Error(`member_sets.refs is not a list of numbers: ${JSON.stringify(text.slice(0, 40))}`);
  }
  if (count > 0) refs[n] = v;
  return refs;
}
