import type Database from 'better-sqlite3';

export type PagedTable = 'push_users' | 'push_groups';

/** what listings learnt about one table of one source since it was last written */
interface Memo {
  count?: number;
  /** offset → the id just before it: the next page of a sequential read starts after that id */
  before: Map<number, string>;
}

/** how many page starts are remembered per source and table */
const MAX_PAGE_STARTS = 10_000;

/**
 * Counts and pages of the SCIM push listings. COUNT(*) walks an index entry per row of the
 * source and OFFSET steps over every row before the page, so both are remembered until the next
 * write of the table: Okta's import reads its pages in turn, each starting after the last id of
 * the page before, through the primary key.
 */
export class PushPages {
  private readonly memos = new Map<string, Memo>();

  constructor(private readonly sql: (text: string) => Database.Statement) {}

  private memo(table: PagedTable, source: string): Memo {
    let m = this.memos.get(`${table}:${source}`);
    if (!m) {
      m = { before: new Map() };
      this.memos.set(`${table}:${source}`, m);
    }
    return m;
  }

  /** a row added or removed moves every position after it: what listings learnt is forgotten */
  written(table: PagedTable, source: string): void {
    this.memos.delete(`${table}:${source}`);
  }

  count(table: PagedTable, source: string): number {
    const m = this.memo(table, source);
    m.count ??= this.sql(`SELECT COUNT(*) FROM ${table} WHERE source = ?`).pluck().get(source) as number;
    return m.count;
  }

  /** rows `offset` to `offset + limit` in id order */
  page<R extends { id: string }>(table: PagedTable, source: string, offset: number, limit: number): R[] {
    const m = this.memo(table, source);
    const after = m.before.get(offset);
    const rows = (
      offset === 0
        ? this.sql(`SELECT * FROM ${table} WHERE source = ? ORDER BY id LIMIT ?`).all(source, limit)
        : after !== undefined
          ? this.sql(`SELECT * FROM ${table} WHERE source = ? AND id > ? ORDER BY id LIMIT ?`).all(source, after, limit)
          : this.sql(`SELECT * FROM ${table} WHERE source = ? ORDER BY id LIMIT ? OFFSET ?`).all(source, limit, offset)
    ) as R[];
    if (rows.length > 0) {
      if (m.before.size >= MAX_PAGE_STARTS) m.before.clear();
      m.before.set(offset + rows.length, rows.at(-1)!.id);
    }
    return rows;
  }
}

/** a source read whole: its users, its groups, and group id → member ids */
export interface WholeSource<U, G> {
  users: U[];
  groups: G[];
  members: Map<string, string[]>;
}

const PAGE = 2000;

/**
 * Reads a whole source in pages of its primary keys and awaits `pause` between pages, so the
 * daemon goes on answering SCIM requests during a run (read at once, 100k users and 1M memberships
 * held the event loop for 5–10 s). The pages are read on a connection of their own inside one read
 * transaction: they all see the same state of the source while pushes go on being written.
 */
export async function readWholeSource<U, G>(
  db: Database.Database,
  source: string,
  pause: () => Promise<unknown>,
  toUser: (row: never) => U,
  toGroup: (row: never) => G,
): Promise<WholeSource<U, G>> {
  // an in-memory store has no file another connection could open: read on its own connection
  const reader = db.memory ? db : new (db.constructor as typeof Database)(db.name, { readonly: true, fileMustExist: true });
  const out: WholeSource<U, G> = { users: [], groups: [], members: new Map() };
  const keyed = (table: string, key: string) => reader.prepare(`SELECT * FROM ${table} WHERE source = ? AND ${key} > ? ORDER BY ${key} LIMIT ?`);
  const members = reader.prepare(
    `SELECT group_id, member_id FROM push_members WHERE source = ? AND (group_id, member_id) > (?, ?) ORDER BY group_id, member_id LIMIT ?`,
  );
  try {
    if (reader !== db) reader.exec('BEGIN');
    for (const [statement, push] of [
      [keyed('push_users', 'id'), (r: never) => out.users.push(toUser(r))],
      [keyed('push_groups', 'id'), (r: never) => out.groups.push(toGroup(r))],
    ] as const) {
      let after = '';
      for (;;) {
        const rows = statement.all(source, after, PAGE) as { id: string }[];
        for (const r of rows) push(r as never);
        if (rows.length < PAGE) break;
        after = rows.at(-1)!.id;
        if (reader !== db) await pause();
      }
    }
    let after = ['', ''];
    for (;;) {
      const rows = members.raw().all(source, after[0], after[1], PAGE * 10) as [string, string][];
      for (const [g, m] of rows) (out.members.get(g) ?? out.members.set(g, []).get(g)!).push(m);
      if (rows.length < PAGE * 10) break;
      after = rows.at(-1)!;
      if (reader !== db) await pause();
    }
    return out;
  } finally {
    if (reader !== db) reader.close();
  }
}
