import type Database from 'better-sqlite3';
import type { ReadGroup } from './read-types.js';

/** a stored group as the store reads it: id, display name, member ids, nested ids, data */
export type GroupRow = [id: string, displayName: string, members: string, nested: string | null, data: string | null];

export function toGroup([id, displayName, members, nested, data]: GroupRow): ReadGroup {
  return { id, displayName, members: decodeIds(members), ...(nested !== null ? { nested: decodeIds(nested) } : {}), ...(data !== null ? { data } : {}) };
}

/** some users of a source, their count and `[id, data, id, data…]` as one JSON text */
export const USERS_AS_TEXT = `SELECT count(*), '[' || group_concat(json_quote(id) || ',' || data, ',') || ']' FROM source_read_users WHERE source = ? AND id IN (SELECT value FROM json_each(?))`;

/** users per text: far below the longest text better-sqlite3 lets SQLite make (V8's longest string, 512 MiB) unless users averaged over 250 kB */
const USERS_PER_TEXT = 2000;

/**
 * Stored users' data, parsed, by id, from `USERS_AS_TEXT` one batch at a time: a row and a string
 * per user cost a fifth more, in strings made only to be parsed. Data that is not one JSON value
 * each (a damaged store) could shift the pairs: it is an error, never data under another id.
 */
export function usersParsed(asText: Database.Statement, source: string, ids: readonly string[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (let i = 0; i < ids.length; i += USERS_PER_TEXT) {
    const [rows, text] = asText.get(source, JSON.stringify(ids.slice(i, i + USERS_PER_TEXT))) as [number, string | null];
    const pairs = JSON.parse(text ?? '[]') as unknown[];
    let ok = pairs.length === 2 * rows;
    for (let k = 0; ok && k < pairs.length; k += 2) {
      const id = pairs[k];
      ok = typeof id === 'string' && !out.has(id);
      if (ok) out.set(id as string, pairs[k + 1]);
    }
    if (!ok) throw new Error(`the store's users of source ${source} hold data that is not one JSON value each`);
  }
  return out;
}

/**
 * A list of ids as one string: one id a line after a leading newline, or JSON when an id holds a
 * newline. Splitting lines costs a tenth of parsing JSON, and a million member ids are read at
 * every incremental read with changes.
 */
export function encodeIds(ids: readonly string[]): string {
  if (ids.length === 0) return '';
  return ids.some((id) => id.includes('\n')) ? JSON.stringify(ids) : `\n${ids.join('\n')}`;
}

export function decodeIds(text: string): string[] {
  if (text === '') return [];
  return text.startsWith('\n') ? text.slice(1).split('\n') : (JSON.parse(text) as string[]);
}
