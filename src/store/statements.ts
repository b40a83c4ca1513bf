import type Database from 'better-sqlite3';

/**
 * Statements prepared once for the life of a store: preparing costs more than running a small
 * statement, and a run makes a few for each of thousands of ops. Each module keeps its own, and
 * uses one mode (raw, pluck) per SQL text, since a statement keeps the mode it was last given.
 */
export class Statements {
  private readonly cache = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  get(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (s === undefined) this.cache.set(sql, (s = this.db.prepare(sql)));
    return s;
  }
}
