import type Database from 'better-sqlite3';

export interface RetentionPolicy {
  /** runs (with their journal and drift rows) older than this go */
  runsMaxAgeMs: number;
  /** and beyond the newest this many */
  runsMaxCount: number;
  /** the newest this many runs keep their whole plan; older ones keep their summary */
  plansMaxCount: number;
  /** identity look-ups and refused users older than this are no longer used: they go */
  identityTtlMs: number;
  /** SAML logins (one row per user) not renewed for this long go */
  samlLoginsMaxAgeMs: number;
  /** scoped runs this recent are kept whatever their count: the guards count their removals (`guards.window`) */
  guardWindowMs: number;
}

export interface PruneReport {
  runs: number;
  plans: number;
  journal: number;
  drift: number;
  identity: number;
  samlLogins: number;
  /** bytes the file gave back */
  freedBytes: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Keeps the store bounded on a five-minute schedule. Never pruned: a scoped run of the guards' window, a run still going, a run with a
 * pending op (crash recovery needs it), a run whose held ops wait for approval, the newest
 * quarantined sync not approved yet, with its plan (`convsync approve` reads it), and the newest
 * full run. Deleted pages go back to the file
 * system (incremental vacuum).
 */
export class Retention {
  constructor(
    private readonly db: Database.Database,
    /** told when plans may have moved: the runs store's memory of the last plan is dropped */
    private readonly plansMoved: () => void,
  ) {}

  prune(policy: RetentionPolicy, nowMs = Date.now()): PruneReport {
    const report = this.db
      .transaction(() => {
        this.markProtected(iso(nowMs - policy.guardWindowMs));
        const plans = this.prunePlans(policy.plansMaxCount);
        const { runs, journal, drift } = this.pruneRuns(policy, nowMs);
        const identity =
          this.db.prepare(`DELETE FROM identity_cache WHERE resolved_at < ?`).run(iso(nowMs - policy.identityTtlMs)).changes +
          this.db.prepare(`DELETE FROM refused_users WHERE refused_at < ?`).run(iso(nowMs - policy.identityTtlMs)).changes;
        const cut = iso(nowMs - policy.samlLoginsMaxAgeMs);
        const samlLogins = this.db
          .prepare(`DELETE FROM saml_logins WHERE logged_in_at < ? AND coalesce(groups_seen_at, logged_in_at) < ?`)
          .run(cut, cut).changes;
        this.db.exec(`DROP TABLE temp.prune_protected`);
        return { runs, plans, journal, drift, identity, samlLogins, freedBytes: 0 };
      })
      .immediate();
    this.plansMoved();
    report.freedBytes = this.giveBack();
    return report;
  }

  /** the file's size in bytes (pages in use and free), without the write-ahead log */
  bytes(): number {
    return (this.db.pragma('page_count', { simple: true }) as number) * (this.db.pragma('page_size', { simple: true }) as number);
  }

  private markProtected(windowStart: string): void {
    this.db.prepare(`CREATE TEMP TABLE prune_protected (id INTEGER PRIMARY KEY)`).run();
    this.db.prepare(`INSERT OR IGNORE INTO prune_protected SELECT id FROM runs WHERE scoped = 1 AND started_at >= ?`).run(windowStart);
    this.db.exec(`
      INSERT OR IGNORE INTO prune_protected SELECT id FROM runs WHERE finished_at IS NULL;
      INSERT OR IGNORE INTO prune_protected SELECT run_id FROM held_ops;
      INSERT OR IGNORE INTO prune_protected SELECT run_id FROM journal WHERE status = 'pending';
      INSERT OR IGNORE INTO prune_protected SELECT max(id) FROM runs
        WHERE mode = 'sync' AND (exit_code = 3 OR json_extract(summary, '$.plan.quarantined') = 1) AND approved_by IS NULL HAVING max(id) IS NOT NULL;
      -- the newest full run: gone, an older quarantined one would read as the newest, waiting again
      INSERT OR IGNORE INTO prune_protected SELECT max(id) FROM runs
        WHERE mode = 'sync' AND scoped = 0 AND finished_at IS NOT NULL AND result <> 'error' HAVING max(id) IS NOT NULL;
    `);
  }

  /** runs past the newest `keep` lose their plan; a plan still shared by a kept run moves to it first */
  private prunePlans(keep: number): number {
    const cut = this.nthNewestRun(keep);
    if (cut === undefined) return 0;
    this.db.prepare(`CREATE TEMP TABLE prune_leaving AS SELECT id FROM runs WHERE id < ? AND id NOT IN (SELECT id FROM temp.prune_protected)`).run(cut);
    this.handOverPlans();
    const n = this.db
      .prepare(
        `UPDATE runs SET plan = NULL, plan_of = NULL, plan_digest = NULL WHERE id IN (SELECT id FROM temp.prune_leaving) AND (plan IS NOT NULL OR plan_of IS NOT NULL)`,
      )
      .run().changes;
    this.db.exec(`DROP TABLE temp.prune_leaving`);
    return n;
  }

  private pruneRuns(policy: RetentionPolicy, nowMs: number): { runs: number; journal: number; drift: number } {
    const countCut = this.nthNewestRun(policy.runsMaxCount) ?? 0;
    this.db
      .prepare(`CREATE TEMP TABLE prune_leaving AS SELECT id FROM runs WHERE (id < ? OR started_at < ?) AND id NOT IN (SELECT id FROM temp.prune_protected)`)
      .run(countCut, iso(nowMs - policy.runsMaxAgeMs));
    this.handOverPlans();
    const leaving = `IN (SELECT id FROM temp.prune_leaving)`;
    // drift.refreshEveryRuns counts sync runs since the last refresh: those pruned still count
    this.db
      .prepare(
        `INSERT INTO meta (key, value)
         SELECT 'sync_runs_pruned_since_refresh', count(*) FROM runs WHERE id ${leaving} AND mode = 'sync'
           AND id > coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'last_refresh_run'), 0)
         ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER)`,
      )
      .run();
    const journal = this.db.prepare(`DELETE FROM journal WHERE run_id ${leaving} AND status <> 'pending'`).run().changes;
    const drift = this.db.prepare(`DELETE FROM drift WHERE run_id ${leaving}`).run().changes;
    const runs = this.db.prepare(`DELETE FROM runs WHERE id ${leaving}`).run().changes;
    this.db.exec(`DROP TABLE temp.prune_leaving`);
    return { runs, journal, drift };
  }

  /**
   * Runs in `prune_leaving` stop holding plans: a plan that a staying run still points to moves to
   * the oldest such run, and the others point there.
   */
  private handOverPlans(): void {
    const moves = this.db
      .prepare(
        `SELECT h.id AS holder, min(r.id) AS heir FROM runs h JOIN runs r ON r.plan_of = h.id
         WHERE h.plan IS NOT NULL AND h.id IN (SELECT id FROM temp.prune_leaving) AND r.id NOT IN (SELECT id FROM temp.prune_leaving)
         GROUP BY h.id`,
      )
      .all() as { holder: number; heir: number }[];
    const take = this.db.prepare(`UPDATE runs SET plan = (SELECT plan FROM runs WHERE id = ?), plan_of = NULL WHERE id = ?`);
    const follow = this.db.prepare(`UPDATE runs SET plan_of = ? WHERE plan_of = ? AND id <> ?`);
    for (const m of moves) {
      take.run(m.holder, m.heir);
      follow.run(m.heir, m.holder, m.heir);
    }
  }

  /** the id of the n-th newest run, or undefined when there are fewer */
  private nthNewestRun(n: number): number | undefined {
    return this.db
      .prepare(`SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?`)
      .pluck()
      .get(n - 1) as number | undefined;
  }

  /**
   * Free pages back to the file system, once they are a quarter of it. A database made before
   * auto_vacuum was set is converted once (a full VACUUM); if that fails (a full disk), the free
   * pages are still reused.
   */
  private giveBack(): number {
    const before = this.bytes();
    if ((this.db.pragma('auto_vacuum', { simple: true }) as number) !== 2) {
      try {
        this.db.pragma('auto_vacuum = INCREMENTAL');
        this.db.exec('VACUUM');
      } catch {
        return 0;
      }
    } else {
      // free pages are reused by the next writes: moving pages to give them back costs a run tens of
      // milliseconds for each few megabytes, so it is done once they are a quarter of the file
      const free = this.db.pragma('freelist_count', { simple: true }) as number;
      const pages = this.db.pragma('page_count', { simple: true }) as number;
      if (free * 4 > pages) this.db.pragma('incremental_vacuum');
    }
    return Math.max(0, before - this.bytes());
  }
}
