import type Database from 'better-sqlite3';
import { decodeIds, encodeIds, toGroup, usersParsed, USERS_AS_TEXT, type GroupRow } from './read-rows.js';
import type { ReadState, ReadGroup, ReadUser, ReadChanges, ReadMark, PlanStamp } from './read-types.js';
import { SourceReadBytes } from './kept-bytes.js';
import { Statements } from './statements.js';

export { decodeIds, encodeIds } from './read-rows.js';

/**
 * What each source last read, so that a run reads only what changed, and the stamp of the last
 * plan made from those reads, so that a run with nothing changed reads and plans nothing.
 *
 * Per source (by its `sources[].name`), whatever its kind (SCIM pull, LDAP, file):
 * - a **state**: an opaque `cursor` where the next incremental read starts (SCIM: the time of the
 *   last good read; LDAP: a modifyTimestamp or the highest uSNChanged), a `fingerprint` of content
 *   read whole (a file: size, mtime and hash), when the last full read was, and a `version`
 *   bumped whenever what is stored changes;
 * - the **groups as last read**: id, display name, member ids (users, or groups the source did not
 *   type), member ids the source typed as groups (nested), and an opaque `data` string;
 * - the **users as last read**, once per source: id and an opaque `data` string (the source's own
 *   record, e.g. the SCIM resource as JSON).
 *
 * A full read replaces all of it (`replace`), or writes only the rows that differ from those kept
 * (`rewrite`); an incremental read gives the groups and users that changed, whole, and the ids of
 * those deleted (`apply`); a source that stores no groups only marks its state (`mark`). Each is
 * one transaction: a read that fails part-way stores nothing, and its cursor does not move.
 *
 * Sources fed through the store (SCIM push, SAML) have their version kept by triggers on their
 * tables (migration 11), so any write to them, by any code path, is seen.
 */

export type { ReadState, ReadGroup, ReadUser, ReadChanges, ReadMark, PlanStamp } from './read-types.js';

/** the triggers that keep the versions of store-fed sources (migration 11) */
export const FEED_TRIGGERS = ['push_users', 'push_groups', 'push_members', 'saml_logins', 'saml_groups'].flatMap((t) =>
  ['ins', 'upd', 'del'].map((k) => `${t}_${k}_version`),
);

export class SourceReads {
  private readonly statements: Statements;
  /** bytes a source keeps of its last read, to compare the next one with */
  readonly bytes: SourceReadBytes;

  constructor(private readonly db: Database.Database) {
    this.statements = new Statements(db);
    this.bytes = new SourceReadBytes(db);
  }

  state(source: string): ReadState | undefined {
    const row = this.statement(`SELECT cursor, fingerprint, full_read_at, read_at FROM source_reads WHERE source = ?`).get(source) as
      { cursor: string | null; fingerprint: string | null; full_read_at: string | null; read_at: string } | undefined;
    return row && { cursor: row.cursor, fingerprint: row.fingerprint, fullReadAt: row.full_read_at, readAt: row.read_at };
  }

  /** the groups as last read, in id order */
  groups(source: string): ReadGroup[] {
    const rows = this.statement(`SELECT id, display_name, members, nested, data FROM source_read_groups WHERE source = ? ORDER BY id`)
      .raw()
      .all(source) as GroupRow[];
    return rows.map(toGroup);
  }

  /** the groups as last read without their members (id, name, nested ids, data), in id order */
  groupHeads(source: string): Omit<ReadGroup, 'members'>[] {
    const rows = this.statement(`SELECT id, display_name, '', nested, data FROM source_read_groups WHERE source = ? ORDER BY id`)
      .raw()
      .all(source) as GroupRow[];
    return rows.map(([id, displayName, , nested, data]) => {
      // no spread: ten thousand heads a run
      const head: Omit<ReadGroup, 'members'> = { id, displayName };
      if (nested !== null) head.nested = decodeIds(nested);
      if (data !== null) head.data = data;
      return head;
    });
  }

  /** a few stored groups, by id (those not stored are left out) */
  someGroups(source: string, ids: readonly string[]): Map<string, ReadGroup> {
    // one statement for all: a look-up per id cost more in calls than in SQLite
    const rows = this.statement(
      `SELECT id, display_name, members, nested, data FROM source_read_groups WHERE source = ? AND id IN (SELECT value FROM json_each(?))`,
    )
      .raw()
      .all(source, JSON.stringify(ids)) as GroupRow[];
    return new Map(rows.map((row) => [row[0], toGroup(row)]));
  }

  /**
   * The stored groups that list any of these ids as a member (and possibly a few that do not: for a
   * few ids, those whose member ids are kept as JSON are all given)
   */
  groupsListing(source: string, ids: readonly string[]): string[] {
    // SQLite looks for each id in every group's members; past a few ids one pass over them is cheaper
    if (ids.length <= 8)
      return this.statement(
        `SELECT g.id FROM source_read_groups g WHERE g.source = ? AND g.members <> '' AND (substr(g.members, 1, 1) <> char(10)
           OR EXISTS (SELECT 1 FROM json_each(?) j WHERE instr(g.members || char(10), char(10) || j.value || char(10)) > 0))`,
      )
        .pluck()
        .all(source, JSON.stringify(ids)) as string[];
    const wanted = new Set(ids);
    const out: string[] = [];
    for (const [id, members] of this.statement(`SELECT id, members FROM source_read_groups WHERE source = ?`).raw().iterate(source) as Iterable<
      [string, string]
    >)
      if (decodeIds(members).some((m) => wanted.has(m))) out.push(id);
    return out;
  }

  /** the users as last read: id → data */
  users(source: string): Map<string, string> {
    return new Map(this.statement(`SELECT id, data FROM source_read_users WHERE source = ?`).raw().all(source) as [string, string][]);
  }

  /** a few stored users' data, by id (those not stored are left out) */
  someUsers(source: string, ids: readonly string[]): Map<string, string> {
    return new Map(
      this.statement(`SELECT id, data FROM source_read_users WHERE source = ? AND id IN (SELECT value FROM json_each(?))`)
        .raw()
        .all(source, JSON.stringify(ids)) as [string, string][],
    );
  }

  /** a few stored users' data, parsed, by id (those not stored are left out), read as in `usersParsed` */
  someUsersParsed(source: string, ids: readonly string[]): Map<string, unknown> {
    return usersParsed(this.statement(USERS_AS_TEXT).raw(), source, ids);
  }

  /** a full read: the stored groups and users replaced by these */
  replace(source: string, read: { groups: readonly ReadGroup[]; users: readonly ReadUser[] }, mark: ReadMark): void {
    this.db.transaction(() => {
      this.statement(`DELETE FROM source_read_groups WHERE source = ?`).run(source);
      this.statement(`DELETE FROM source_read_users WHERE source = ?`).run(source);
      this.write(source, { groups: read.groups, users: read.users, deletedGroups: [], deletedUsers: [] });
      this.saveState(source, mark, true);
      this.bump(source);
    })();
  }

  /** a full read that differs from the one kept in a few rows: those written, those gone deleted */
  rewrite(source: string, changes: ReadChanges, mark: ReadMark): void {
    this.db.transaction(() => {
      this.write(source, changes);
      this.saveState(source, mark, true);
      this.bump(source);
    })();
  }

  /** an incremental read: the groups and users that changed, whole, and those deleted */
  apply(source: string, changes: ReadChanges, mark: ReadMark): void {
    const changed = changes.groups.length + changes.users.length + changes.deletedGroups.length + changes.deletedUsers.length > 0;
    this.db.transaction(() => {
      this.write(source, changes);
      this.saveState(source, mark, false);
      if (changed) this.bump(source);
    })();
  }

  /** a file source's files stamped anew, their content the same: kept only if the fingerprint is still `was` */
  restamp(source: string, was: string, fingerprint: string): void {
    this.statement(`UPDATE source_reads SET fingerprint = ? WHERE source = ? AND fingerprint = ?`).run(fingerprint, source, was);
  }

  /** a source that stores no groups (a file read whole): its state only; `changed` when it read new content */
  mark(source: string, mark: ReadMark, opts: { full: boolean; changed: boolean }): void {
    this.db.transaction(() => {
      this.saveState(source, mark, opts.full);
      if (opts.changed) this.bump(source);
    })();
  }

  /** everything kept of a source (it was removed from the configuration, or its reads no longer apply) */
  forget(source: string): void {
    this.db.transaction(() => {
      for (const table of ['source_read_groups', 'source_read_users', 'source_read_bytes', 'source_reads'])
        this.db.prepare(`DELETE FROM ${table} WHERE source = ?`).run(source);
      this.bump(source);
    })();
  }

  /** one source's version (0 before anything was stored) */
  version(source: string): number {
    return (this.statement(`SELECT version FROM source_versions WHERE source = ?`).pluck().get(source) as number | undefined) ?? 0;
  }

  /**
   * `fn` in one transaction: its reads see one state of the store, and its first write fails
   * (SQLITE_BUSY_SNAPSHOT) when another connection wrote since its first read
   */
  atomically<T>(fn: () => T): T {
    return this.db.transaction(fn).deferred();
  }

  /** `fn` in one transaction that holds the write lock from its start (waiting for it as any write does) */
  writing<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** every source's version: bumped by each change to what it stored (or, for push and SAML, to their tables) */
  versions(): Map<string, number> {
    return new Map(this.statement(`SELECT source, version FROM source_versions`).raw().all() as [string, number][]);
  }

  /** whether every trigger that keeps the versions of store-fed sources is there (a rebuilt table loses its own) */
  feedTriggersIntact(): boolean {
    const found = this.db
      .prepare(`SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (${FEED_TRIGGERS.map(() => '?').join(', ')})`)
      .pluck()
      .get(...FEED_TRIGGERS);
    return found === FEED_TRIGGERS.length;
  }

  /**
   * whether memberships a SAML login showed expired between two times: an assertion last named the
   * user's groups within (from − ttl, to − ttl]
   */
  samlExpiredBetween(source: string, fromIso: string, toIso: string, ttlMs: number): boolean {
    const shift = (iso: string) => new Date(Date.parse(iso) - ttlMs).toISOString();
    return (
      this.statement(
        `SELECT 1 FROM saml_logins WHERE source = ? AND coalesce(groups_seen_at, logged_in_at) > ? AND coalesce(groups_seen_at, logged_in_at) <= ? LIMIT 1`,
      ).get(source, shift(fromIso), shift(toIso)) !== undefined
    );
  }

  // ---- the last complete plan -------------------------------------------------------------------

  planStamp(): PlanStamp | undefined {
    const value = this.statement(`SELECT value FROM meta WHERE key = 'plan_stamp'`).pluck().get() as string | undefined;
    return value === undefined ? undefined : (JSON.parse(value) as PlanStamp);
  }

  savePlanStamp(stamp: PlanStamp | undefined): void {
    if (stamp === undefined) this.statement(`DELETE FROM meta WHERE key = 'plan_stamp'`).run();
    else
      this.statement(`INSERT INTO meta (key, value) VALUES ('plan_stamp', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(
        JSON.stringify(stamp),
      );
  }

  /** what a stamp compares: the last journal row, the last drift refresh, and whether ops are held back */
  storeMarks(): { journalMax: number; refreshRun: number; held: number } {
    return {
      journalMax: this.statement(`SELECT coalesce(max(id), 0) FROM journal`).pluck().get() as number,
      refreshRun: Number(this.statement(`SELECT value FROM meta WHERE key = 'last_refresh_run'`).pluck().get() ?? 0),
      held: this.statement(`SELECT count(*) FROM held_ops`).pluck().get() as number,
    };
  }

  /** runs after `afterRun` and before `beforeRun` that could change something and did not end well (or have not ended) */
  unfinishedRunsBetween(afterRun: number, beforeRun: number): number {
    return this.statement(
      `SELECT count(*) FROM runs WHERE id > ? AND id < ? AND mode IN ('sync', 'apply', 'approve', 'migrate') AND (exit_code IS NULL OR exit_code NOT IN (0, 2))`,
    )
      .pluck()
      .get(afterRun, beforeRun) as number;
  }

  // ---- writes ---------------------------------------------------------------------------------

  private write(source: string, changes: ReadChanges): void {
    const putGroup = this.statement(
      `INSERT INTO source_read_groups (source, id, display_name, members, nested, data) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (source, id) DO UPDATE SET display_name = excluded.display_name, members = excluded.members, nested = excluded.nested, data = excluded.data`,
    );
    const putUser = this.statement(
      `INSERT INTO source_read_users (source, id, data) VALUES (?, ?, ?) ON CONFLICT (source, id) DO UPDATE SET data = excluded.data`,
    );
    const delGroup = this.statement(`DELETE FROM source_read_groups WHERE source = ? AND id = ?`);
    const delUser = this.statement(`DELETE FROM source_read_users WHERE source = ? AND id = ?`);
    for (const g of changes.groups) putGroup.run(source, g.id, g.displayName, encodeIds(g.members), g.nested ? encodeIds(g.nested) : null, g.data ?? null);
    for (const u of changes.users) putUser.run(source, u.id, u.data);
    for (const id of changes.deletedGroups) delGroup.run(source, id);
    for (const id of changes.deletedUsers) delUser.run(source, id);
  }

  private saveState(source: string, mark: ReadMark, full: boolean): void {
    const before = this.state(source);
    this.statement(
      `INSERT INTO source_reads (source, cursor, fingerprint, full_read_at, read_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, fingerprint = excluded.fingerprint, full_read_at = excluded.full_read_at, read_at = excluded.read_at`,
    ).run(
      source,
      mark.cursor !== undefined ? mark.cursor : (before?.cursor ?? null),
      mark.fingerprint !== undefined ? mark.fingerprint : (before?.fingerprint ?? null),
      full ? mark.at : (before?.fullReadAt ?? null),
      mark.at,
    );
  }

  private bump(source: string): void {
    this.statement(`INSERT INTO source_versions (source, version) VALUES (?, 1) ON CONFLICT (source) DO UPDATE SET version = version + 1`).run(source);
  }

  private statement(sql: string): Database.Statement {
    return this.statements.get(sql);
  }
}
