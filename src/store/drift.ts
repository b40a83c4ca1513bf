import type Database from 'better-sqlite3';
import type { SnapshotWriter } from './effects.js';
import type { MemberSets } from './member-sets.js';

const now = () => new Date().toISOString();

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

/** What refreshes found: applied to the snapshot and logged, and what it leaves to remember (leavers, conversations deleted by hand). */
export class DriftStore {
  constructor(
    private readonly db: Database.Database,
    private readonly members: MemberSets,
    private readonly snapshot: SnapshotWriter,
  ) {}

  /** what a refresh found, applied to the snapshot and logged, in one transaction */
  apply(runId: number, drift: Drift[]): void {
    const t = now();
    const log = this.db.prepare(`INSERT INTO drift (run_id, binding_key, conversation_id, kind, user_id, detail, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)`);
    const leaver = this.db.prepare(`INSERT INTO leavers (conversation_id, user_id, left_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`);
    this.members.writing(() => {
      for (const d of drift) {
        const ours = this.members.edit(d.conversationId, { add: d.added, origin: 'external', remove: d.left });
        for (const u of d.added) log.run(runId, d.key, d.conversationId, 'added', u, null, t);
        for (const u of ours) leaver.run(d.conversationId, u, t);
        for (const u of d.left) log.run(runId, d.key, d.conversationId, 'left', u, null, t);
        if (d.unmanageable !== undefined) this.snapshot.markUnmanageable(d.conversationId, d.unmanageable);
        if (d.renamedTo !== undefined) {
          this.snapshot.apply({ kind: 'renamed', conversationId: d.conversationId, name: d.renamedTo });
          log.run(runId, d.key, d.conversationId, 'renamed', null, d.renamedTo, t);
        }
        if (d.deleted !== undefined) {
          this.snapshot.apply({ kind: 'deleted', key: d.key });
          this.db.prepare(`DELETE FROM leavers WHERE conversation_id = ?`).run(d.conversationId);
          this.db
            .prepare(
              `INSERT INTO gone (binding_key, conversation_id, detected_at) VALUES (?, ?, ?) ON CONFLICT (binding_key) DO UPDATE SET conversation_id = excluded.conversation_id, detected_at = excluded.detected_at`,
            )
            .run(d.key, d.conversationId, t);
          log.run(runId, d.key, d.conversationId, 'deleted', null, d.deleted, t);
        }
      }
      this.db.prepare(`INSERT INTO meta (key, value) VALUES ('last_refresh_run', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(String(runId));
      this.db.prepare(`DELETE FROM meta WHERE key = 'sync_runs_pruned_since_refresh'`).run();
    });
  }

  /** sync runs since the last refresh (all of them when there was none) */
  runsSinceRefresh(): number {
    const last = Number(this.db.prepare(`SELECT value FROM meta WHERE key = 'last_refresh_run'`).pluck().get() ?? 0);
    const pruned = Number(this.db.prepare(`SELECT value FROM meta WHERE key = 'sync_runs_pruned_since_refresh'`).pluck().get() ?? 0);
    return pruned + (this.db.prepare(`SELECT count(*) FROM runs WHERE mode = 'sync' AND id > ?`).pluck().get(last) as number);
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

  recent(
    limit: number,
  ): { runId: number; key: string; conversationId: string; kind: string; userId: string | null; detail: string | null; detectedAt: string }[] {
    return (
      this.db.prepare(`SELECT run_id, binding_key, conversation_id, kind, user_id, detail, detected_at FROM drift ORDER BY id DESC LIMIT ?`).all(limit) as {
        run_id: number;
        binding_key: string;
        conversation_id: string;
        kind: string;
        user_id: string | null;
        detail: string | null;
        detected_at: string;
      }[]
    ).map((r) => ({
      runId: r.run_id,
      key: r.binding_key,
      conversationId: r.conversation_id,
      kind: r.kind,
      userId: r.user_id,
      detail: r.detail,
      detectedAt: r.detected_at,
    }));
  }

  /** what drift left to remember: leavers by binding key, and the keys of conversations deleted by hand */
  memory(): { leavers: Map<string, { conversationId: string; users: string[] }>; gone: string[] } {
    const leavers = new Map<string, { conversationId: string; users: string[] }>();
    const rows = this.db
      .prepare(
        `SELECT b.key, l.conversation_id, l.user_id FROM leavers l JOIN bindings b ON b.conversation_id = l.conversation_id AND b.state = 'bound' ORDER BY l.user_id`,
      )
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
}
