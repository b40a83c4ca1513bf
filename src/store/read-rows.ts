import type { ReadGroup } from './read-types.js';

/** a stored group as the store reads it: id, display name, member ids, nested ids, data */
export type GroupRow = [id: string, displayName: string, members: string, nested: string | null, data: string | null];

export function toGroup([id, displayName, members, nested, data]: GroupRow): ReadGroup {
  return { id, displayName, members: decodeIds(members), ...(nested !== null ? { nested: decodeIds(nested) } : {}), ...(data !== null ? { data } : {}) };
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
