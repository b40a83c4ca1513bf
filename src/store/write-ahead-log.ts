import type Database from 'better-sqlite3';
import { statSync } from 'node:fs';

/** how long a statement waits for the write lock another connection holds */
export const BUSY_TIMEOUT_MS = 5000;

/** `fn` with the connection's waits for another's lock bounded by `waitMs` (then SQLITE_BUSY), busy_timeout after */
export function waitingAtMost<T>(db: Database.Database, waitMs: number, fn: () => T): T {
  db.pragma(`busy_timeout = ${Math.trunc(waitMs)}`);
  try {
    return fn();
  } finally {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  }
}

/** SQLite's log of commits not yet copied into the database (`-wal`): when it is copied, and its size */
export class WriteAheadLog {
  constructor(private readonly db: Database.Database) {}

  /**
   * Leaves copying the log into the database to `checkpoint()` until the log holds this many pages
   * (SQLite copies at 1,000, in whichever commit passes them): the daemon's run thread copies it
   * after each run, off the run's path, rather than in the run's own commits
   */
  checkpointAt(pages: number): void {
    this.db.pragma(`wal_autocheckpoint = ${Math.trunc(pages)}`);
    // the log file is cut back to this when the log starts over, rather than kept at its largest
    this.db.pragma(`journal_size_limit = ${16 * 1024 * 1024}`);
  }

  /** copies the log into the database as far as no reader still needs it, without waiting for one: the pages in the log and those copied */
  checkpoint(): { log: number; copied: number } | undefined {
    if (!this.db.open) return undefined;
    const [row] = this.db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    return row && { log: row.log, copied: row.checkpointed };
  }

  /**
   * Copies the rest of the log and makes the next writer start it over from its beginning, waiting
   * at most `waitMs` for readers that still need it. SQLite starts the log over when a writer begins
   * with the log copied whole and no reader in it; while pushes write all the time, a copy never ends
   * with the log whole (they add to it meanwhile), and the log grew until a commit copied it on the
   * daemon's thread. Other writers wait throughout, for the copy of what came since and its two
   * fsyncs too (17–35 ms here): it is done once the log is long. false when a reader kept it from
   * getting that far.
   */
  restart(waitMs: number): boolean {
    if (!this.db.open) return false;
    return waitingAtMost(this.db, waitMs, () => {
      const [row] = this.db.pragma('wal_checkpoint(RESTART)') as { busy: number }[];
      return row?.busy === 0;
    });
  }

  /** the size of the log file (`-wal`) on disk: copies empty it for reuse, and it is cut back once no reader needs it */
  bytes(): number {
    return statSync(`${this.db.name}-wal`, { throwIfNoEntry: false })?.size ?? 0;
  }
}
