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

  /**
   * How these prints differ from those stored: the keys whose print differs or is not stored, in
   * the order given, those of them not stored, and how many stored keys are not among these.
   * SQLite compares them: reading ten thousand prints into a map here took twice as long.
   */
  differing(prints: ReadonlyMap<string, string>): PrintsDiffer {
    const keys = [...prints.keys()];
    const rows = this.db
      .prepare(
        `SELECT listed.key, stored.print IS NULL FROM json_each(?) AS listed LEFT JOIN group_prints AS stored ON stored.key = listed.value ->> 0
         WHERE stored.print IS NOT (listed.value ->> 1) ORDER BY listed.key`,
      )
      .raw()
      .all(JSON.stringify([...prints])) as [number, number][];
    const fresh = rows.filter(([, notStored]) => notStored === 1).map(([i]) => keys[i]!);
    const count = this.db.prepare(`SELECT count(*) FROM group_prints`).pluck().get() as number;
    return { changed: rows.map(([i]) => keys[i]!), fresh, gone: count - (keys.length - fresh.length) };
  }

  /**
   * The key of the store's prints, 16 hex digits (made by migration 020). One missing or damaged is
   * made anew: prints made with the one before then differ, and their groups are planned.
   */
  key(): string {
    const read = () => this.db.prepare(`SELECT value FROM meta WHERE key = 'print_key'`).pluck().get() as string | undefined;
    const key = read();
    if (key !== undefined && /^[0-9a-f]{16}$/.test(key)) return key;
    // one statement, replacing only a key still not well-formed: two processes that met a damaged key keep one new key
    this.db
      .prepare(
        `INSERT INTO meta (key, value) VALUES ('print_key', lower(hex(randomblob(8))))
         ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE length(meta.value) <> 16 OR meta.value GLOB '*[^0-9a-f]*'`,
      )
      .run();
    return read()!;
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

/** how the prints of a read differ from the stored ones (`GroupPrints.differing`) */
export interface PrintsDiffer {
  changed: string[];
  fresh: string[];
  /** stored keys not read */
  gone: number;
}
