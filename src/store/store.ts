import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PlanOp, RemovedGroupAction, Snapshot, SnapshotConversation } from '../plan/types.js';
import { MemberList } from '../members/member-list.js';
import { MemberSets } from './member-sets.js';
import { MIGRATIONS } from './migrations.js';
import { PushStore } from './push.js';
import { SamlStore } from './saml.js';
import { GuardStore } from './guards.js';
import { Lease } from './lease.js';
import { UserStore } from './users.js';

/** What a completed op changed, applied to the snapshot in the same transaction as its journal row. */
export type OpEffect =
  | {
      kind: 'created';
      key: string;
      conversationId: string;
      name: string;
      ownerId: string;
      backend: string;
      /** members put in by convsync; `external` ones were already there (adoption) */
      members: string[];
      external?: string[];
      groups: string[];
      onGroupRemoved: RemovedGroupAction;
    }
  | { kind: 'added'; conversationId: string; members: string[]; external?: string[] }
  | { kind: 'removed'; conversationId: string; members: string[] }
  | { kind: 'renamed'; conversationId: string; name: string }
  | { kind: 'unbound'; key: string }
  /** bound again to the conversation it had (under `fromKey` when the key changed), whose members are now these */
  | { kind: 'rebound'; key: string; fromKey?: string; conversationId: string; members: string[] }
  /** deleted or archived on the backend: never managed again */
  | { kind: 'deleted'; key: string }
  /** a user made on the backend (a Protocol contact), remembered like a lookup */
  | { kind: 'identified'; lookup: string; userId: string }
  | { kind: 'none' };

/** What a refresh found in one owned conversation, compared with the snapshot. */
export interface Drift {
  key: string;
  conversationId: string;
  /** on the backend, unknown to the snapshot: added by hand */
  added: string[];
  /** in the snapshot, gone from the backend: left (or removed by hand) */
  left: string[];
  renamedTo?: string;
  /** the conversation is gone for convsync, and why */
  deleted?: string;
  /** whether its members can still be changed: why not, or null when they can again */
  unmanageable?: string | null;
}

export type JournalStatus = 'pending' | 'done' | 'failed';

export interface JournalRow {
  id: number;
  runId: number;
  op: PlanOp;
  status: JournalStatus;
  errorKind: string | null;
  errorLabel: string | null;
  errorMessage: string | null;
  note: string | null;
  startedAt: string;
  finishedAt: string | null;
}

export type RunMode = 'sync' | 'dry-run' | 'plan' | 'apply' | 'approve' | 'migrate';

export interface RunRow {
  id: number;
  mode: RunMode;
  startedAt: string;
  finishedAt: string | null;
  result: string | null;
  exitCode: number | null;
  summary: unknown;
  error: string | null;
}

const now = () => new Date().toISOString();

export { LeaseError, type LeaseHolder } from './lease.js';

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
  private readonly members: MemberSets;

  private constructor(private readonly db: Database.Database) {
    this.push = new PushStore(db);
    this.saml = new SamlStore(db);
    this.members = new MemberSets(db);
    this.guards = new GuardStore(db);
    this.users = new UserStore(db, this.members);
    this.lease = new Lease(db);
  }

  static open(path: string): Store {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    const store = new Store(db);
    store.migrate();
    return store;
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
      throw new Error(
        `the database is at schema version ${current}, newer than this convsync understands (${MIGRATIONS.length}); upgrade convsync`,
      );
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  // ---- snapshot -------------------------------------------------------------------------------

  loadSnapshot(): Snapshot {
    const rows = this.db
      .prepare(
        `SELECT key, conversation_id, owner_id, name, groups, on_group_removed, state, unmanageable FROM bindings WHERE state IN ('bound', 'unbound') ORDER BY key`,
      )
      .all() as { key: string; conversation_id: string; owner_id: string; name: string; groups: string; on_group_removed: RemovedGroupAction; state: string; unmanageable: string | null }[];
    const { users, members } = this.members.load();
    const byConversation = new Map<string, SnapshotConversation>();
    const all = rows.map((r) => {
      const c: SnapshotConversation = {
        key: r.key,
        conversationId: r.conversation_id,
        ownerId: r.owner_id,
        name: r.name,
        members: members.get(r.conversation_id) ?? MemberList.empty,
        groups: JSON.parse(r.groups) as string[],
        onGroupRemoved: r.on_group_removed,
        ...(r.unmanageable !== null ? { unmanageable: r.unmanageable } : {}),
      };
      if (r.state === 'bound') byConversation.set(r.conversation_id, c);
      return c;
    });
    const conversations = all.filter((_, i) => rows[i]!.state === 'bound');
    // a conversation let go keeps its row and members: if its group comes back, it is bound again
    const unbound = all.filter((c, i) => rows[i]!.state === 'unbound' && !byConversation.has(c.conversationId));
    const leavers = this.db.prepare(`SELECT conversation_id, user_id FROM leavers ORDER BY user_id`).raw().all() as [string, string][];
    for (const [conversationId, userId] of leavers) {
      const c = byConversation.get(conversationId);
      if (c) (c.leavers ??= []).push(userId);
    }
    const gone = this.db.prepare(`SELECT binding_key FROM gone ORDER BY binding_key`).pluck().all() as string[];
    return { conversations, users, ...(gone.length > 0 ? { gone } : {}), ...(unbound.length > 0 ? { unbound } : {}) };
  }

  // ---- drift ----------------------------------------------------------------------------------

  /** what a refresh found, applied to the snapshot and logged, in one transaction */
  applyDrift(runId: number, drift: Drift[]): void {
    const t = now();
    const log = this.db.prepare(
      `INSERT INTO drift (run_id, binding_key, conversation_id, kind, user_id, detail, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    const leaver = this.db.prepare(`INSERT INTO leavers (conversation_id, user_id, left_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`);
    this.members.writing(() => this.db.transaction(() => {
      for (const d of drift) {
        const ours = this.members.edit(d.conversationId, { add: d.added, origin: 'external', remove: d.left });
        for (const u of d.added) log.run(runId, d.key, d.conversationId, 'added', u, null, t);
        for (const u of ours) leaver.run(d.conversationId, u, t);
        for (const u of d.left) log.run(runId, d.key, d.conversationId, 'left', u, null, t);
        if (d.unmanageable !== undefined) this.markUnmanageable(d.conversationId, d.unmanageable);
        if (d.renamedTo !== undefined) {
          this.applyEffect({ kind: 'renamed', conversationId: d.conversationId, name: d.renamedTo });
          log.run(runId, d.key, d.conversationId, 'renamed', null, d.renamedTo, t);
        }
        if (d.deleted !== undefined) {
          this.applyEffect({ kind: 'deleted', key: d.key });
          this.db.prepare(`DELETE FROM leavers WHERE conversation_id = ?`).run(d.conversationId);
          this.db
            .prepare(`INSERT INTO gone (binding_key, conversation_id, detected_at) VALUES (?, ?, ?) ON CONFLICT (binding_key) DO UPDATE SET conversation_id = excluded.conversation_id, detected_at = excluded.detected_at`)
            .run(d.key, d.conversationId, t);
          log.run(runId, d.key, d.conversationId, 'deleted', null, d.deleted, t);
        }
      }
      this.db.prepare(`INSERT INTO meta (key, value) VALUES ('last_refresh_run', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(String(runId));
    })());
  }

  /** sync runs since the last refresh (all of them when there was none) */
  runsSinceRefresh(): number {
    const last = Number(this.db.prepare(`SELECT value FROM meta WHERE key = 'last_refresh_run'`).pluck().get() ?? 0);
    return this.db.prepare(`SELECT count(*) FROM runs WHERE mode = 'sync' AND id > ?`).pluck().get(last) as number;
  }

  /** leavers who are no longer in the group: if they join it again, they are added again */
  forgetLeavers(conversationId: string, users: string[]): void {
    const del = this.db.prepare(`DELETE FROM leavers WHERE conversation_id = ? AND user_id = ?`);
    this.db.transaction(() => {
      for (const u of users) del.run(conversationId, u);
    })();
  }

  /** a conversation deleted by hand whose groups are gone too: nothing left to remember */
  forgetGone(keys: string[]): void {
    const del = this.db.prepare(`DELETE FROM gone WHERE binding_key = ?`);
    this.db.transaction(() => {
      for (const k of keys) del.run(k);
    })();
  }

  recentDrift(limit: number): { runId: number; key: string; conversationId: string; kind: string; userId: string | null; detail: string | null; detectedAt: string }[] {
    return (
      this.db
        .prepare(`SELECT run_id, binding_key, conversation_id, kind, user_id, detail, detected_at FROM drift ORDER BY id DESC LIMIT ?`)
        .all(limit) as { run_id: number; binding_key: string; conversation_id: string; kind: string; user_id: string | null; detail: string | null; detected_at: string }[]
    ).map((r) => ({ runId: r.run_id, key: r.binding_key, conversationId: r.conversation_id, kind: r.kind, userId: r.user_id, detail: r.detail, detectedAt: r.detected_at }));
  }

  bindingOf(key: string): { conversationId: string; ownerId: string } | undefined {
    const row = this.db.prepare(`SELECT conversation_id, owner_id FROM bindings WHERE key = ? AND state = 'bound'`).get(key) as
      | { conversation_id: string; owner_id: string }
      | undefined;
    return row && { conversationId: row.conversation_id, ownerId: row.owner_id };
  }

  /** the binding row under a key, in any state */
  bindingRow(key: string): { conversationId: string; ownerId: string; state: string } | undefined {
    const row = this.db.prepare(`SELECT conversation_id, owner_id, state FROM bindings WHERE key = ?`).get(key) as
      | { conversation_id: string; owner_id: string; state: string }
      | undefined;
    return row && { conversationId: row.conversation_id, ownerId: row.owner_id, state: row.state };
  }

  /** any binding, in any state, ever made to this conversation */
  bindingByConversation(conversationId: string): { key: string; state: string } | undefined {
    return this.db
      .prepare(`SELECT key, state FROM bindings WHERE conversation_id = ? ORDER BY state = 'bound' DESC LIMIT 1`)
      .get(conversationId) as { key: string; state: string } | undefined;
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

  /** what drift left to remember: leavers by binding key, and the keys of conversations deleted by hand */
  driftMemory(): { leavers: Map<string, { conversationId: string; users: string[] }>; gone: string[] } {
    const leavers = new Map<string, { conversationId: string; users: string[] }>();
    const rows = this.db
      .prepare(`SELECT b.key, l.conversation_id, l.user_id FROM leavers l JOIN bindings b ON b.conversation_id = l.conversation_id AND b.state = 'bound' ORDER BY l.user_id`)
      .raw()
      .all() as [string, string, string][];
    for (const [key, conversationId, user] of rows) {
      const entry = leavers.get(key) ?? { conversationId, users: [] };
      entry.users.push(user);
      leavers.set(key, entry);
    }
    const gone = this.db.prepare(`SELECT binding_key FROM gone ORDER BY binding_key`).pluck().all() as string[];
    return { leavers, gone };
  }

  private applyEffect(effect: OpEffect): void {
    const t = now();
    switch (effect.kind) {
      case 'created': {
        // the key's earlier conversation (moved to a channel, or deleted and made again) keeps a row of
        // its own: no later look for a lost create takes it for one convsync just made
        const replaced = this.db.prepare(`SELECT conversation_id FROM bindings WHERE key = ? AND conversation_id <> ?`).pluck().get(effect.key, effect.conversationId) as string | undefined;
        if (replaced !== undefined) {
          this.db.prepare(`UPDATE bindings SET key = 'replaced:' || key || ':' || conversation_id, state = 'deleted', updated_at = ? WHERE key = ?`).run(t, effect.key);
          this.members.clear(replaced);
          // who left the old one on their own is not added to the new one either
          this.db.prepare(`UPDATE OR IGNORE leavers SET conversation_id = ? WHERE conversation_id = ?`).run(effect.conversationId, replaced);
          this.db.prepare(`DELETE FROM leavers WHERE conversation_id = ?`).run(replaced);
        }
        this.db
          .prepare(
            `INSERT INTO bindings (key, conversation_id, owner_id, backend, name, groups, on_group_removed, state, created_at, updated_at)
             VALUES (@key, @conversationId, @ownerId, @backend, @name, @groups, @onGroupRemoved, 'bound', @t, @t)
             ON CONFLICT (key) DO UPDATE SET conversation_id = excluded.conversation_id, owner_id = excluded.owner_id,
               backend = excluded.backend, name = excluded.name, groups = excluded.groups,
               on_group_removed = excluded.on_group_removed, state = 'bound', updated_at = excluded.updated_at`,
          )
          .run({ ...effect, groups: JSON.stringify(effect.groups), t });
        this.db.prepare(`DELETE FROM gone WHERE binding_key = ?`).run(effect.key);
        this.members.clear(effect.conversationId);
        this.members.edit(effect.conversationId, { add: effect.members, origin: 'convsync' });
        this.members.edit(effect.conversationId, { add: effect.external ?? [], origin: 'external' });
        break;
      }
      case 'added': {
        this.members.edit(effect.conversationId, { add: effect.members, origin: 'convsync' });
        if (effect.external?.length) this.members.edit(effect.conversationId, { add: effect.external, origin: 'external' });
        const del = this.db.prepare(`DELETE FROM leavers WHERE conversation_id = ? AND user_id = ?`);
        for (const m of effect.members) del.run(effect.conversationId, m);
        break;
      }
      case 'removed':
        this.members.edit(effect.conversationId, { remove: effect.members });
        break;
      case 'renamed':
        this.db
          .prepare(`UPDATE bindings SET name = ?, updated_at = ? WHERE conversation_id = ? AND state = 'bound'`)
          .run(effect.name, t, effect.conversationId);
        break;
      case 'unbound':
        // members kept: a rebind starts from them
        this.db.prepare(`UPDATE bindings SET state = 'unbound', updated_at = ? WHERE key = ? AND state = 'bound'`).run(t, effect.key);
        break;
      case 'rebound': {
        if (effect.fromKey !== undefined && effect.fromKey !== effect.key) {
          this.db.prepare(`UPDATE bindings SET key = 'replaced:' || key || ':' || conversation_id, state = 'deleted', updated_at = ? WHERE key = ?`).run(t, effect.key);
          this.db.prepare(`UPDATE bindings SET key = ?, updated_at = ? WHERE key = ? AND conversation_id = ?`).run(effect.key, t, effect.fromKey, effect.conversationId);
        }
        this.db.prepare(`UPDATE bindings SET state = 'bound', updated_at = ? WHERE key = ? AND conversation_id = ?`).run(t, effect.key, effect.conversationId);
        const now = new Set(effect.members);
        const kept = this.members.idsOf(effect.conversationId);
        // who joined while it was let go was not added by convsync
        this.members.edit(effect.conversationId, { add: effect.members, origin: 'external', remove: kept.filter((m) => !now.has(m)) });
        break;
      }
      case 'deleted': {
        const row = this.db.prepare(`SELECT conversation_id FROM bindings WHERE key = ?`).get(effect.key) as
          | { conversation_id: string }
          | undefined;
        this.db.prepare(`UPDATE bindings SET state = 'deleted', updated_at = ? WHERE key = ?`).run(t, effect.key);
        if (row) this.members.clear(row.conversation_id);
        break;
      }
      case 'identified':
        this.db
          .prepare(
            `INSERT INTO identity_cache (lookup, backend_user_id, resolved_at) VALUES (?, ?, ?)
             ON CONFLICT (lookup) DO UPDATE SET backend_user_id = excluded.backend_user_id, resolved_at = excluded.resolved_at`,
          )
          .run(effect.lookup, effect.userId, t);
        break;
      case 'none':
        break;
    }
  }

  /** a trivial read, for readiness */
  ping(): boolean {
    return this.db.open && this.db.prepare('SELECT 1').pluck().get() === 1;
  }

  // ---- runs -----------------------------------------------------------------------------------

  /** `scoped`: a run of the groups a push or a SAML login changed, guarded together over a window */
  startRun(mode: RunMode, opts: { scoped?: boolean } = {}): number {
    return Number(this.db.prepare(`INSERT INTO runs (mode, started_at, scoped) VALUES (?, ?, ?)`).run(mode, now(), opts.scoped ? 1 : 0).lastInsertRowid);
  }

  finishRun(id: number, result: string, exitCode: number, summary: unknown, plan?: unknown, error?: string): void {
    this.db
      .prepare(`UPDATE runs SET finished_at = ?, result = ?, exit_code = ?, summary = ?, plan = ?, error = ? WHERE id = ?`)
      .run(now(), result, exitCode, JSON.stringify(summary ?? null), plan === undefined ? null : JSON.stringify(plan), error ?? null, id);
  }

  /** the plan a run computed (kept with the run) */
  runPlan(id: number): unknown {
    const row = this.db.prepare(`SELECT plan FROM runs WHERE id = ?`).get(id) as { plan: string | null } | undefined;
    return row?.plan ? (JSON.parse(row.plan) as unknown) : undefined;
  }

  recentRuns(limit: number): RunRow[] {
    const rows = this.db
      .prepare(`SELECT id, mode, started_at, finished_at, result, exit_code, summary, error FROM runs ORDER BY id DESC LIMIT ?`)
      .all(limit) as {
      id: number;
      mode: RunMode;
      started_at: string;
      finished_at: string | null;
      result: string | null;
      exit_code: number | null;
      summary: string | null;
      error: string | null;
    }[];
    return rows.map((r) => ({
      id: r.id,
      mode: r.mode,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      result: r.result,
      exitCode: r.exit_code,
      summary: r.summary === null ? null : (JSON.parse(r.summary) as unknown),
      error: r.error,
    }));
  }

  // ---- journal --------------------------------------------------------------------------------

  /**
   * Written before the backend call: a crash after this point is resolved at the next start.
   * `durable`: synced to disk before returning (before a call that must not be repeated blindly),
   * not only safe from a crash of the process.
   */
  journalPending(runId: number, op: PlanOp, opts: { durable?: boolean } = {}): number {
    const conversationId = 'conversationId' in op ? op.conversationId : null;
    const startedAt = now();
    const insert = () =>
      Number(
        this.db
          .prepare(
            `INSERT INTO journal (run_id, op, binding_key, conversation_id, payload, reason, status, started_at)
             VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)`,
          )
          .run(runId, op.op, op.key, conversationId, JSON.stringify(op), op.reason, startedAt).lastInsertRowid,
      );
    if (!opts.durable) return insert();
    // in WAL mode, FULL syncs the log at this commit; NORMAL only at checkpoints
    this.db.pragma('synchronous = FULL');
    try {
      return insert();
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  /** the op's result and its snapshot change land together or not at all */
  journalDone(id: number, effect: OpEffect, note?: string): void {
    this.members.writing(() => this.db.transaction(() => {
      this.applyEffect(effect);
      this.db
        .prepare(`UPDATE journal SET status = 'done', finished_at = ?, note = ? WHERE id = ? AND status = 'pending'`)
        .run(now(), note ?? null, id);
    })());
  }

  journalFailed(id: number, error: { kind: string; label?: string | undefined; message: string }): void {
    this.db
      .prepare(
        `UPDATE journal SET status = 'failed', finished_at = ?, error_kind = ?, error_label = ?, error_message = ? WHERE id = ?`,
      )
      .run(now(), error.kind, error.label ?? null, error.message, id);
  }

  /** whether a create for this key is still pending (its answer lost, not found yet) */
  createPending(key: string): boolean {
    return this.db.prepare(`SELECT 1 FROM journal WHERE status = 'pending' AND op = 'create' AND binding_key = ? LIMIT 1`).pluck().get(key) !== undefined;
  }

  pendingJournal(): JournalRow[] {
    return this.journalRows(`WHERE status = 'pending' ORDER BY id`);
  }

  journalOfRun(runId: number): JournalRow[] {
    return this.journalRows(`WHERE run_id = ? ORDER BY id`, runId);
  }

  recentFailures(limit: number): JournalRow[] {
    return this.journalRows(`WHERE status = 'failed' ORDER BY id DESC LIMIT ?`, limit);
  }

  private journalRows(where: string, ...params: unknown[]): JournalRow[] {
    const rows = this.db
      .prepare(
        `SELECT id, run_id, payload, status, error_kind, error_label, error_message, note, started_at, finished_at FROM journal ${where}`,
      )
      .all(...params) as {
      id: number;
      run_id: number;
      payload: string;
      status: JournalStatus;
      error_kind: string | null;
      error_label: string | null;
      error_message: string | null;
      note: string | null;
      started_at: string;
      finished_at: string | null;
    }[];
    return rows.map((r) => ({
      id: r.id,
      runId: r.run_id,
      op: JSON.parse(r.payload) as PlanOp,
      status: r.status,
      errorKind: r.error_kind,
      errorLabel: r.error_label,
      errorMessage: r.error_message,
      note: r.note,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
    }));
  }

  // ---- unmanageable conversations ---------------------------------------------------------------

  /** bound conversations the backend no longer lets convsync manage */
  countUnmanageable(): number {
    return this.db.prepare(`SELECT count(*) FROM bindings WHERE state = 'bound' AND unmanageable IS NOT NULL`).pluck().get() as number;
  }

  /** what a read or a refused change says about whether the conversation can still be managed (null: it can) */
  markUnmanageable(conversationId: string, reason: string | null): void {
    this.db.prepare(`UPDATE bindings SET unmanageable = ?, updated_at = ? WHERE conversation_id = ? AND state = 'bound'`).run(reason, now(), conversationId);
  }

}
