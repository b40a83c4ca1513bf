import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PlanOp, RemovedGroupAction, Snapshot, SnapshotConversation } from '../plan/types.js';
import { MemberList } from '../members/member-list.js';
import { MemberSets } from './member-sets.js';
import { MIGRATIONS } from './migrations/index.js';
import { PushStore } from './push.js';
import { SamlStore } from './saml.js';
import { GuardStore } from './guards.js';
import { hostname } from 'node:os';
import { isAlive, Lease, LEASE_TTL_MS, type LeaseHolder } from './lease.js';
import { UserStore } from './users.js';
import { RunStore } from './runs.js';
import { Retention } from './retention.js';
import { SourceReads } from './source-reads.js';
import { StatusViews } from './views.js';
import { SnapshotWriter } from './effects.js';
import { JournalStore } from './journal.js';
import { DriftStore } from './drift.js';
import { BindingGroups } from './binding-groups.js';
import { GroupParts } from './group-parts.js';
import { GroupPrints } from './group-prints.js';
import { Statements } from './statements.js';
import { BUSY_TIMEOUT_MS, waitingAtMost, WriteAheadLog } from './write-ahead-log.js';

export type { OpEffect } from './effects.js';
export type { Drift } from './drift.js';
export type { JournalRow, JournalStatus } from './journal.js';

export type { RunMode, RunRow } from './runs.js';

const now = () => new Date().toISOString();

export { LeaseError, LEASE_TTL_MS, pidNamespace, type LeaseHolder } from './lease.js';

/** The only module that writes SQL. One writer: convsync opens one database per deployment. */
export class Store {
  /** what SCIM push sources sent */
  readonly push: PushStore;
  /** what SAML logins showed */
  readonly saml: SamlStore;
  /** the guards' baselines, window and held ops */
  readonly guards: GuardStore;
  /** looked-up and refused users, the one id form, renewed credentials */
  readonly users: UserStore;
  /** the single-writer lease */
  readonly lease: Lease;
  /** runs and their plans */
  readonly runs: RunStore;
  /** what is pruned, by age and count */
  readonly retention: Retention;
  /** what each source last read, and the stamp of the last plan made from those reads */
  readonly reads: SourceReads;
  /** what the daemon's status page reads */
  readonly views: StatusViews;
  /** each group as the last complete plan read it */
  readonly prints: GroupPrints;
  /** each group's members as backend ids, as the last plan that took it resolved them */
  readonly parts: GroupParts;
  /** the groups that fed each conversation at the last plan that took it */
  readonly bindingGroups: BindingGroups;
  /** every op, pending before its call and done or failed after */
  readonly journal: JournalStore;
  /** what refreshes found, and what it leaves to remember */
  readonly drift: DriftStore;
  /** SQLite's log of commits not yet copied into the database: when it is copied, and its size */
  readonly wal: WriteAheadLog;
  private readonly members: MemberSets;
  private readonly snapshot: SnapshotWriter;
  /** the look-ups made once per op */
  private readonly statements: Statements;

  private constructor(private readonly db: Database.Database) {
    this.statements = new Statements(db);
    this.push = new PushStore(db);
    this.saml = new SamlStore(db);
    this.members = new MemberSets(db);
    this.snapshot = new SnapshotWriter(db, this.members);
    this.journal = new JournalStore(db, this.members, this.snapshot);
    this.drift = new DriftStore(db, this.members, this.snapshot);
    this.guards = new GuardStore(db);
    this.users = new UserStore(db, this.members);
    this.lease = new Lease(db);
    this.runs = new RunStore(db);
    this.retention = new Retention(db, () => this.runs.forgetLastPlan());
    this.reads = new SourceReads(db);
    this.views = new StatusViews(db);
    this.prints = new GroupPrints(db);
    this.parts = new GroupParts(db);
    this.bindingGroups = new BindingGroups(db);
    this.wal = new WriteAheadLog(db);
  }

  /**
   * Opens (and migrates) the database. A `writer` takes the single-writer lease first, so that
   * migrations run under it; a reader that finds the schema behind takes the lease just for the
   * migration, and is refused while another convsync writes.
   */
  static open(path: string, opts: { writer?: LeaseHolder } = {}): Store {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = writesWaitForTheLock(new Database(path));
    let giveBack: (() => void) | undefined;
    try {
      // a new file gives deleted pages back (retention); set before its first table
      if (db.prepare(`SELECT count(*) FROM sqlite_master`).pluck().get() === 0) db.pragma('auto_vacuum = INCREMENTAL');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const store = new Store(db);
      const holder = opts.writer ?? (store.schemaVersion < MIGRATIONS.length ? { host: hostname(), pid: process.pid, command: 'migrate' } : undefined);
      const taken = holder !== undefined && store.lease.acquire(holder, LEASE_TTL_MS, isAlive);
      // a store that fails to open (a newer schema, a full disk) does not keep another writer out
      if (taken) giveBack = () => store.lease.release(holder);
      store.migrate();
      // runs are made only under the lease: one left open when it changed hands has lost its writer
      if (taken) store.runs.interrupted('its writer was gone or had lost the lease when the next writer started');
      if (holder && !opts.writer) store.lease.release(holder);
      const writer = opts.writer;
      if (writer) store.journal.fence = () => store.lease.hold(writer);
      return store;
    } catch (e) {
      try {
        giveBack?.();
      } catch {
        // not given back, it lapses after LEASE_TTL_MS
      }
      db.close();
      throw e;
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private migrate(): void {
    const current = this.schemaVersion;
    if (current > MIGRATIONS.length) {
      throw new Error(`the database is at schema version ${current}, newer than this convsync understands (${MIGRATIONS.length}); upgrade convsync`);
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  // ---- snapshot -------------------------------------------------------------------------------

  /**
   * The conversations bound or let go (with `only`, those under these keys), their members decoded
   * when first read (with `only`, at load, and the ids of the user numbers `alsoNumbered` lists with them)
   */
  loadSnapshot(only?: ReadonlySet<string>, alsoNumbered?: readonly Int32Array[]): Snapshot {
    const columns = `key, conversation_id, owner_id, name, groups, on_group_removed, state, unmanageable`;
    // with `only`, its rows alone (a plan of what changed looks at a thousandth of ten thousand); a
    // key read back with U+FFFD may have been stored as a lone surrogate, which SQL cannot match again
    const byKey = only !== undefined && ![...only].some((k) => k.includes('\uFFFD'));
    const rows = (
      byKey
        ? this.db
            .prepare(`SELECT ${columns} FROM bindings WHERE state IN ('bound', 'unbound') AND key IN (SELECT value FROM json_each(?)) ORDER BY key`)
            .all(JSON.stringify([...only]))
        : this.db.prepare(`SELECT ${columns} FROM bindings WHERE state IN ('bound', 'unbound') ORDER BY key`).all()
    ) as {
      key: string;
      conversation_id: string;
      owner_id: string;
      name: string;
      groups: string;
      on_group_removed: RemovedGroupAction;
      state: string;
      unmanageable: string | null;
    }[];
    const { users, membersOf } = this.members.load(only && rows.filter((r) => only.has(r.key)).map((r) => r.conversation_id), alsoNumbered);
    const byConversation = new Map<string, SnapshotConversation>();
    const all = rows.map((r) => {
      let members: MemberList | undefined;
      const c: SnapshotConversation = {
        key: r.key,
        conversationId: r.conversation_id,
        ownerId: r.owner_id,
        name: r.name,
        get members() {
          return (members ??= membersOf(r.conversation_id));
        },
        groups: JSON.parse(r.groups) as string[],
        onGroupRemoved: r.on_group_removed,
        ...(r.unmanageable !== null ? { unmanageable: r.unmanageable } : {}),
      };
      if (r.state === 'bound') byConversation.set(r.conversation_id, c);
      return c;
    });
    const kept = (c: SnapshotConversation) => only === undefined || only.has(c.key);
    const conversations = all.filter((c, i) => rows[i]!.state === 'bound' && kept(c));
    // a conversation let go keeps its row and members: if its group comes back, it is bound again
    const boundAgain = byKey ? this.boundConversations() : new Set(byConversation.keys());
    const unbound = all.filter((c, i) => rows[i]!.state === 'unbound' && !boundAgain.has(c.conversationId) && kept(c));
    const leavers = this.db.prepare(`SELECT conversation_id, user_id FROM leavers ORDER BY user_id`).raw().all() as [string, string][];
    for (const [conversationId, userId] of leavers) {
      const c = byConversation.get(conversationId);
      if (c) (c.leavers ??= []).push(userId);
    }
    const gone = this.db.prepare(`SELECT binding_key FROM gone ORDER BY binding_key`).pluck().all() as string[];
    return { conversations, users, ...(gone.length > 0 ? { gone } : {}), ...(unbound.length > 0 ? { unbound } : {}) };
  }

  /** the conversations bound (under any key), as read back, to compare with ids read back */
  private boundConversations(): Set<string> {
    return new Set(this.db.prepare(`SELECT conversation_id FROM bindings WHERE state = 'bound'`).pluck().all() as string[]);
  }

  bindingOf(key: string): { conversationId: string; ownerId: string } | undefined {
    const row = this.statements.get(`SELECT conversation_id, owner_id FROM bindings WHERE key = ? AND state = 'bound'`).get(key) as
      { conversation_id: string; owner_id: string } | undefined;
    return row && { conversationId: row.conversation_id, ownerId: row.owner_id };
  }

  /** the binding row under a key, in any state */
  bindingRow(key: string): { conversationId: string; ownerId: string; state: string } | undefined {
    const row = this.statements.get(`SELECT conversation_id, owner_id, state FROM bindings WHERE key = ?`).get(key) as
      { conversation_id: string; owner_id: string; state: string } | undefined;
    return row && { conversationId: row.conversation_id, ownerId: row.owner_id, state: row.state };
  }

  /** any binding, in any state, ever made to this conversation */
  bindingByConversation(conversationId: string): { key: string; state: string } | undefined {
    return this.db.prepare(`SELECT key, state FROM bindings WHERE conversation_id = ? ORDER BY state = 'bound' DESC LIMIT 1`).get(conversationId) as
      { key: string; state: string } | undefined;
  }

  /** groups feeding bound conversations change without any backend call (a union gains a group); one transaction */
  updateBindingGroups(list: readonly { key: string; groups: string[]; onGroupRemoved: RemovedGroupAction }[]): void {
    const update = this.db.prepare(
      `UPDATE bindings SET groups = ?, on_group_removed = ?, updated_at = ?
       WHERE key = ? AND state = 'bound' AND (groups <> ? OR on_group_removed <> ?)`,
    );
    const t = now();
    this.db.transaction(() => {
      for (const b of list) {
        const groups = JSON.stringify(b.groups);
        update.run(groups, b.onGroupRemoved, t, b.key, groups, b.onGroupRemoved);
      }
    })();
  }

  /** `fn` with its writes waiting at most `waitMs` for another writer's lock before they fail busy (not busy_timeout) */
  waitingAtMost<T>(waitMs: number, fn: () => T): T {
    return waitingAtMost(this.db, waitMs, fn);
  }

  /** a trivial read, for readiness */
  ping(): boolean {
    return this.db.open && this.db.prepare('SELECT 1').pluck().get() === 1;
  }

  // ---- unmanageable conversations ---------------------------------------------------------------

  /** bound conversations the backend no longer lets convsync manage */
  countUnmanageable(): number {
    return this.db.prepare(`SELECT count(*) FROM bindings WHERE state = 'bound' AND unmanageable IS NOT NULL`).pluck().get() as number;
  }

  /** what a read or a refused change says about whether the conversation can still be managed (null: it can) */
  markUnmanageable(conversationId: string, reason: string | null): void {
    this.snapshot.markUnmanageable(conversationId, reason);
  }
}

/**
 * Every transaction takes the write lock when it begins (BEGIN IMMEDIATE), waiting for it up to
 * busy_timeout. A deferred one that read first and then writes fails at once with "database is
 * locked" when another connection wrote meanwhile: the daemon's runs (a thread of their own) and
 * its SCIM pushes and SAML logins write beside each other. `.deferred()` stays for a read that
 * must fail that way.
 */
function writesWaitForTheLock(db: Database.Database): Database.Database {
  const transaction = db.transaction.bind(db);
  // each variant carries the others (.deferred, .immediate, .exclusive) as better-sqlite3 makes them
  db.transaction = ((fn: (...args: never[]) => unknown) => transaction(fn).immediate) as typeof db.transaction;
  return db;
}
