import type Database from 'better-sqlite3';
import { Statements } from './statements.js';

/**
 * A group's members as backend user ids, by their numbers in `user_ids` (one per member resolved,
 * repeats kept), and the print of the members they were resolved from
 */
export interface GroupPart {
  print: string;
  /** active members that resolved to no backend id */
  unresolved: number;
  refs: Int32Array;
}

/**
 * Each group's members as the last plan that took the group resolved them, under the members'
 * print and the identity rule they were resolved by. Parts are a cache: one that does not match a
 * group's print and the rule now is never used. They hold numbers of `user_ids`, which change only
 * when ids are merged into one form, and that forgets every part (users.ts).
 */
export class GroupParts {
  private readonly statements: Statements;

  constructor(private readonly db: Database.Database) {
    this.statements = new Statements(db);
  }

  /** the parts of these groups resolved by this identity rule */
  some(keys: readonly string[], identity: string): Map<string, GroupPart> {
    const rows = this.statements
      .get(`SELECT group_key, print, unresolved, refs FROM group_parts WHERE identity = ? AND group_key IN (SELECT value FROM json_each(?))`)
      .raw()
      .all(identity, JSON.stringify(keys)) as [string, string, number, string][];
    const out = new Map<string, GroupPart>();
    for (const [key, print, unresolved, refs] of rows) {
      // a row that is not a list of numbers (a damaged store) is a part not kept: its group is mapped from its members
      const numbers = partRefs(refs);
      if (numbers) out.set(key, { print, unresolved, refs: numbers });
    }
    return out;
  }

  /** the stored parts of this identity rule as stored (print and numbers as text), by group: of these groups, or of all */
  stored(identity: string, keys?: readonly string[]): Map<string, { print: string; refs: string }> {
    const rows = keys
      ? this.statements
          .get(`SELECT group_key, print, refs FROM group_parts WHERE identity = ? AND group_key IN (SELECT value FROM json_each(?))`)
          .raw()
          .all(identity, JSON.stringify(keys))
      : this.statements.get(`SELECT group_key, print, refs FROM group_parts WHERE identity = ?`).raw().all(identity);
    return new Map((rows as [string, string, string][]).map(([key, print, refs]) => [key, { print, refs }]));
  }

  /** how many parts there are, of every identity rule */
  count(): number {
    return this.statements.get(`SELECT count(*) FROM group_parts`).pluck().get() as number;
  }

  /** the numbers `user_ids` gives these ids, for those it has */
  numbersOf(ids: readonly string[]): Map<string, number> {
    if (ids.length === 0) return new Map();
    const rows = this.statements.get(`SELECT user_id, ref FROM user_ids WHERE user_id IN (SELECT value FROM json_each(?))`).raw().all(JSON.stringify(ids));
    return new Map(rows as [string, number][]);
  }

  /** these parts stored, their numbers in ascending order; with `only`, every other part is forgotten (a full plan's groups are all there are) */
  save(parts: ReadonlyMap<string, GroupPart>, identity: string, only?: readonly string[]): void {
    const put = this.statements.get(
      `INSERT INTO group_parts (group_key, print, identity, unresolved, refs) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (group_key) DO UPDATE SET print = excluded.print, identity = excluded.identity, unresolved = excluded.unresolved, refs = excluded.refs`,
    );
    this.db.transaction(() => {
      if (only)
        this.statements
          .get(`DELETE FROM group_parts WHERE identity != ? OR group_key NOT IN (SELECT value FROM json_each(?))`)
          .run(identity, JSON.stringify(only));
      for (const [key, p] of parts) put.run(key, p.print, identity, p.unresolved, refsText(p.refs));
    })();
  }
}

/** a part's numbers as stored: ascending, so that the same members are the same text */
export function refsText(refs: Int32Array): string {
  return refs.slice().sort().join(',');
}

/**
 * The numbers of a stored part; undefined when the text is not what `refsText` writes (a damaged
 * row): numbers from 1 to 2^31 - 1 without leading zeros, ascending, one comma between them
 */
function partRefs(text: string): Int32Array | undefined {
  if (text === '') return new Int32Array(0);
  let count = 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 44) count++;
  const refs = new Int32Array(count);
  let n = 0;
  let v = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const ch = i === text.length ? 44 : text.charCodeAt(i);
    if (ch === 44) {
      if (digits === 0 || v > 0x7fffffff || (n > 0 && v < refs[n - 1]!)) return undefined;
      refs[n++] = v;
      v = 0;
      digits = 0;
    } else if (ch >= 48 && ch <= 57 && !(digits === 0 && ch === 48) && digits < 10) {
      v = v * 10 + ch - 48;
      digits++;
    } else return undefined;
  }
  return refs;
}
