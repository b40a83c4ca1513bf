import type Database from 'better-sqlite3';
import { Statements } from './statements.js';
import type { PlanOp } from '../plan/types.js';
import type { OpEffect, SnapshotWriter } from './effects.js';
import type { MemberSets } from './member-sets.js';

/** the note on an op that a later run resolved after the one that sent it was interrupted */
export const RESOLVED_AFTER_INTERRUPTION = 'resolved after interruption';

const now = () => new Date().toISOString();

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

/**
 * The journal: every op written pending before its backend call, and done (with its snapshot
 * change, in one transaction) or failed after. Pending rows are what crash recovery resolves.
 */
export class JournalStore {
  private readonly sql: Statements;
  /** run inside each write: throws when this process is no longer the writer (see Lease.hold) */
  fence: () => void = () => undefined;

  constructor(
    private readonly db: Database.Database,
    private readonly members: MemberSets,
    private readonly snapshot: SnapshotWriter,
  ) {
    this.sql = new Statements(db);
  }

  /** the lease checked now, in a transaction of its own: right before a backend call that changes something */
  fenceNow(): void {
    this.db.transaction(() => this.fence()).immediate();
  }

  /**
   * Written before the backend call: a crash after this point is resolved at the next start.
   * `durable`: synced to disk before returning (before a call that must not be repeated blindly),
   * not only safe from a crash of the process.
   */
  pending(runId: number, op: PlanOp, opts: { durable?: boolean } = {}): number {
    const conversationId = 'conversationId' in op ? op.conversationId : null;
    const startedAt = now();
    const insert = () =>
      this.db
        .transaction(() => {
          this.fence();
          return Number(
            this.sql
              .get(
                `INSERT INTO journal (run_id, op, binding_key, conversation_id, payload, reason, status, started_at)
                 VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)`,
              )
              .run(runId, op.op, op.key, conversationId, JSON.stringify(op), op.reason, startedAt).lastInsertRowid,
          );
        })
        .immediate();
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
  done(id: number, effect: OpEffect, note?: string): void {
    this.members.writing(() => {
      this.fence();
      this.snapshot.apply(effect);
      this.sql.get(`UPDATE journal SET status = 'done', finished_at = ?, note = ? WHERE id = ? AND status = 'pending'`).run(now(), note ?? null, id);
    });
  }

  failed(id: number, error: { kind: string; label?: string | undefined; message: string }): void {
    this.db
      .transaction(() => {
        this.fence();
        this.sql
          .get(`UPDATE journal SET status = 'failed', finished_at = ?, error_kind = ?, error_label = ?, error_message = ? WHERE id = ?`)
          .run(now(), error.kind, error.label ?? null, error.message, id);
      })
      .immediate();
  }

  /** a pending op never sent (its batch went op by op instead): no trace of a call that was not made */
  withdraw(id: number): void {
    this.db
      .transaction(() => {
        this.fence();
        this.sql.get(`DELETE FROM journal WHERE id = ? AND status = 'pending'`).run(id);
      })
      .immediate();
  }

  /** whether a create for this key is still pending (its answer lost, not found yet) */
  createPending(key: string): boolean {
    return this.sql.get(`SELECT 1 FROM journal WHERE status = 'pending' AND op = 'create' AND binding_key = ? LIMIT 1`).pluck().get(key) !== undefined;
  }

  /**
   * member adds to this conversation of a migrate-to-channels run (the fill of a new channel) that
   * failed, or were resolved after an interruption (maybe never landed)
   */
  unsureMigrateAdds(conversationId: string): JournalRow[] {
    return this.rows(
      `WHERE op = 'add' AND conversation_id = ? AND (status = 'failed' OR note = ?)
         AND run_id IN (SELECT id FROM runs WHERE mode = 'migrate') ORDER BY id`,
      conversationId,
      RESOLVED_AFTER_INTERRUPTION,
    );
  }

  /** the name a conversation had before a migrate-to-channels run renamed it (cut to fit " (moved)"), while the journal holds it */
  nameBeforeMigrateRename(conversationId: string): string | undefined {
    const payload = this.sql
      .get(
        `SELECT payload FROM journal WHERE op = 'rename' AND status = 'done' AND conversation_id = ?
           AND run_id IN (SELECT id FROM runs WHERE mode = 'migrate') ORDER BY id DESC LIMIT 1`,
      )
      .pluck()
      .get(conversationId) as string | undefined;
    const name = payload === undefined ? undefined : (JSON.parse(payload) as { name?: unknown }).name;
    return typeof name === 'string' ? name : undefined;
  }

  /** member changes to this conversation done after journal row `afterId` */
  doneMemberChanges(conversationId: string, afterId: number): JournalRow[] {
    return this.rows(`WHERE status = 'done' AND op IN ('add', 'remove') AND conversation_id = ? AND id > ? ORDER BY id`, conversationId, afterId);
  }

  pendingRows(): JournalRow[] {
    return this.rows(`WHERE status = 'pending' ORDER BY id`);
  }

  ofRun(runId: number): JournalRow[] {
    return this.rows(`WHERE run_id = ? ORDER BY id`, runId);
  }

  recentFailures(limit: number): JournalRow[] {
    return this.rows(`WHERE status = 'failed' ORDER BY id DESC LIMIT ?`, limit);
  }

  private rows(where: string, ...params: unknown[]): JournalRow[] {
    const rows = this.sql
      .get(`SELECT id, run_id, payload, status, error_kind, error_label, error_message, note, started_at, finished_at FROM journal ${where}`)
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
}
