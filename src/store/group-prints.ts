import type Database from 'better-sqlite3';

/**
 * A print of each group as the last complete plan read it (its name, flags and members). A run
 * whose only news is that a source changed compares the groups it read with these and plans only
 * the conversations of the groups that differ.
 */
export class GroupPrints {
  constructor(private readonly db: Database.Database) {}

  all(): Map<string, string> {
    const rows = this.db.prepare(`SELECT key, print FROM group_prints`).raw().all() as [string, string][];
    return new Map(rows);
  }

  /** a full plan's prints replace every print; a partial plan's change those of the groups it planned */
  save(prints: ReadonlyMap<string, string>, opts: { replace: boolean }): void {
    const put = this.db.prepare(`INSERT INTO group_prints (key, print) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET print = excluded.print`);
    this.db.transaction(() => {
      if (opts.replace) this.db.prepare(`DELETE FROM group_prints`).run();
      for (const [key, print] of prints) put.run(key, print);
    })();
  }

  /** forgotten: the next run that finds a source changed plans every group */
  clear(): void {
    this.db.prepare(`DELETE FROM group_prints`).run();
  }
}
