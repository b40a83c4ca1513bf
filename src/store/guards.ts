import type Database from 'better-sqlite3';

const now = () => new Date().toISOString();

/**
 * What the guards compare with and remember: the sizes of the last good reads (sources, groups),
 * what runs scoped to a push or a login did within the window, and the ops a run held back.
 */
export class GuardStore {
  constructor(private readonly db: Database.Database) {}

  /** what scoped runs removed, deleted, archived and unbound since `since` (ISO time) */
  scopedChangesSince(since: string): { removals: number; deletes: number; unbinds: number; removalsByKey: Map<string, number> } {
    const rows = this.db
      .prepare(
        `SELECT j.op, j.payload FROM journal j JOIN runs r ON r.id = j.run_id
         WHERE r.scoped = 1 AND j.status = 'done' AND j.started_at >= ? AND j.op IN ('remove', 'delete', 'archive', 'unbind')`,
      )
      .raw()
      .all(since) as [string, string][];
    const out = { removals: 0, deletes: 0, unbinds: 0, removalsByKey: new Map<string, number>() };
    for (const [op, payload] of rows) {
      if (op === 'remove') {
        const { key, members } = JSON.parse(payload) as { key: string; members: string[] };
        out.removals += members.length;
        out.removalsByKey.set(key, (out.removalsByKey.get(key) ?? 0) + members.length);
      } else if (op === 'unbind') out.unbinds++;
      else out.deletes++;
    }
    return out;
  }

  /** the last good read's member counts of these groups (those it recorded) */
  groupSizes(keys: readonly string[]): Map<string, number> {
    const rows = this.db
      .prepare(`SELECT group_key, member_count FROM group_state WHERE group_key IN (SELECT value FROM json_each(?))`)
      .raw()
      .all(JSON.stringify(keys)) as [string, number][];
    return new Map(rows);
  }

  /** only groups read completely are recorded: an unknown read must not become the new baseline */
  recordGroupSizes(groups: { key: string; displayName: string; size: number }[]): void {
    const t = now();
    const up = this.db.prepare(
      `INSERT INTO group_state (group_key, display_name, member_count, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (group_key) DO UPDATE SET display_name = excluded.display_name, member_count = excluded.member_count,
         updated_at = excluded.updated_at`,
    );
    this.db.transaction(() => {
      for (const g of groups) up.run(g.key, g.displayName, g.size, t);
    })();
  }

  sourceSizes(): Map<string, { groups: number; memberships: number }> {
    const rows = this.db.prepare(`SELECT source, groups, memberships FROM source_state`).all() as { source: string; groups: number; memberships: number }[];
    return new Map(rows.map((r) => [r.source, { groups: r.groups, memberships: r.memberships }]));
  }

  recordSourceSize(source: string, size: { groups: number; memberships: number }): void {
    this.db
      .prepare(
        `INSERT INTO source_state (source, groups, memberships, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (source) DO UPDATE SET groups = excluded.groups, memberships = excluded.memberships, updated_at = excluded.updated_at`,
      )
      .run(source, size.groups, size.memberships, now());
  }

  /**
   * Ops a run held back: every later run holds them too until each run that held them is approved.
   * A full run's hold stands for the same op's hold by an earlier full run, which is no longer
   * offered for approval (a scoped run's stays: its own approval releases it).
   */
  recordHeld(runId: number, ops: readonly { op: string; key: string }[], opts: { full?: boolean } = {}): void {
    const put = this.db.prepare(`INSERT INTO held_ops (op, key, run_id, held_at) VALUES (?, ?, ?, ?) ON CONFLICT (op, key, run_id) DO NOTHING`);
    const superseded = this.db.prepare(
      `DELETE FROM held_ops WHERE op = ? AND key = ? AND run_id < ? AND run_id IN (SELECT id FROM runs WHERE mode = 'sync' AND scoped = 0)`,
    );
    const t = now();
    this.db.transaction(() => {
      for (const o of ops) {
        if (opts.full) superseded.run(o.op, o.key, runId);
        put.run(o.op, o.key, runId, t);
      }
    })();
  }

  /**
   * Approved: what run `runId` held back and, when it was a full run, these ops' holds by the later
   * full runs that stood for its hold (they held the same again before or while it was approved).
   */
  releaseApproved(runId: number, ops: readonly { op: string; key: string }[]): void {
    const later = this.db.prepare(
      `DELETE FROM held_ops WHERE op = ? AND key = ? AND run_id > ? AND run_id IN (SELECT id FROM runs WHERE mode = 'sync' AND scoped = 0)
         AND EXISTS (SELECT 1 FROM runs WHERE id = ? AND mode = 'sync' AND scoped = 0)`,
    );
    this.db.transaction(() => {
      this.db.prepare(`DELETE FROM held_ops WHERE run_id = ?`).run(runId);
      for (const o of ops) later.run(o.op, o.key, runId, runId);
    })();
  }

  /** "op key" → the first run that held it back and is not approved yet */
  heldOps(): Map<string, number> {
    const rows = this.db.prepare(`SELECT op, key, min(run_id) FROM held_ops GROUP BY op, key`).raw().all() as [string, string, number][];
    return new Map(rows.map(([op, key, run]) => [`${op} ${key}`, run]));
  }

  /** approved (a run's, or all of them), or no longer wanted by any plan */
  releaseHeld(which: { runId?: number; all?: boolean; keep?: ReadonlySet<string> }): void {
    if (which.all) this.db.prepare(`DELETE FROM held_ops`).run();
    else if (which.runId !== undefined) this.db.prepare(`DELETE FROM held_ops WHERE run_id = ?`).run(which.runId);
    else if (which.keep) {
      const del = this.db.prepare(`DELETE FROM held_ops WHERE op = ? AND key = ?`);
      this.db.transaction(() => {
        for (const name of this.heldOps().keys()) {
          if (which.keep!.has(name)) continue;
          const cut = name.indexOf(' ');
          del.run(name.slice(0, cut), name.slice(cut + 1));
        }
      })();
    }
  }
}
