import type { ReadGroup } from './read-types.js';

/** a stored group as the store reads it: id, display name, member ids, nested ids, data */
export type GroupRow = [id: string, displayName: string, members: string, nested: string | null, data: string | null];

export function toGroup([id, displayName, members, nested, data]: GroupRow): ReadGroup {
  return { id, displayName, members: decodeIds(members), ...(nested !== null ? { nested: decodeIds(nested) } : {}), ...(data !== null ? { data } : {}) };
}

/**
 * `rows` ids and values, as one JSON list `[id, value, id, value…]`, put in `out`; false when the
 * text does not hold that many distinct ids, each a string, each with one value
 */
export function putPairs(out: Map<string, unknown>, rows: number, text: string | null): boolean {
  const pairs = JSON.parse(text ?? '[]') as unknown[];
  if (pairs.length !== 2 * rows) return false;
  for (let k = 0; k < pairs.length; k += 2) {
    const id = pairs[k];
    if (typeof id !== 'string' || out.has(id)) return false;
    out.set(id, pairs[k + 1]);
  }
  return true;
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
