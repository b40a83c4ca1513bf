import { hash } from 'node:crypto';

/** where a JSON directory file keeps its users and each of its groups, as byte ranges */
export interface FileSpans {
  /** the `users` list, brackets included */
  users: Span;
  /** each element of the `users` list */
  userElements: Span[];
  /** each element of the `groups` list */
  groups: Span[];
  /** the digest of the `users` list, when it was taken to find the list (`spanDigest`) */
  usersDigest?: string;
}

export type Span = readonly [start: number, end: number];

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const OPEN_BRACE = 0x7b;
export const CLOSE_BRACE = 0x7d;
export const OPEN_BRACKET = 0x5b;
export const CLOSE_BRACKET = 0x5d;

/**
 * Where a JSON directory file keeps its users and each of its groups, found without parsing it:
 * the byte range of the `users` list and of each element of it and of the `groups` list. A group whose bytes
 * hash as they did at the last read is the same group (a JSON value means the same wherever it
 * stands), so a run after a change parses only the groups whose bytes differ. The outside of the
 * ranges is checked as JSON here (braces, keys, colons, commas, whitespace); anything else, or
 * anything unusual (another key, a key twice or missing, a key written with escapes, a group that
 * is not an object), gives undefined: the file is then read whole, as before it was followed.
 */
export function spansOf(bytes: Uint8Array, known?: KnownList): FileSpans | undefined {
  const lists = listsOf(bytes, known);
  if (lists?.users === undefined || lists.groups === undefined) return undefined;
  const users = lists.users;
  const spans = { users: users.list, groups: lists.groups, ...(users.elements === undefined && { usersDigest: known!.digest }) } as FileSpans;
  // a users list known unchanged is not split into users unless asked: there is nothing to compare
  Object.defineProperty(spans, 'userElements', {
    enumerable: true,
    get: () => (users.elements ??= elementsOf(bytes, users.list[0])!.spans),
  });
  return spans;
}

/** the `users` list of the last read, by the digest and length of its bytes */
export interface KnownList {
  digest: string;
  length: number;
}

/** the same of a file that lists only users (a directory's users file, beside its files of groups) */
export function usersSpansOf(bytes: Uint8Array): Omit<FileSpans, 'groups'> | undefined {
  const lists = listsOf(bytes);
  if (lists?.users?.elements === undefined || lists.groups !== undefined) return undefined;
  return { users: lists.users.list, userElements: lists.users.elements };
}

/**
 * The `users` and `groups` lists of a file laid out plainly, each at most once, nothing else. A
 * `users` list whose bytes are those `known` names (digest and length: the same bytes, which were
 * checked when they were read) is stepped over, not scanned: it is more than half of a large file.
 */
function listsOf(bytes: Uint8Array, known?: KnownList): { users?: { list: Span; elements?: Span[] }; groups?: Span[] } | undefined {
  const n = bytes.length;
  let i = skipSpace(bytes, 0);
  if (bytes[i] !== OPEN_BRACE) return undefined;
  let users: { list: Span; elements?: Span[] } | undefined;
  let groups: Span[] | undefined;
  i = skipSpace(bytes, i + 1);
  for (let first = true; ; first = false) {
    if (!first) {
      if (bytes[i] === CLOSE_BRACE) break;
      if (bytes[i] !== COMMA) return undefined;
      i = skipSpace(bytes, i + 1);
    }
    const key = keyAt(bytes, i);
    if (key === undefined) return undefined;
    i = skipSpace(bytes, key.end);
    if (bytes[i] !== COLON) return undefined;
    i = skipSpace(bytes, i + 1);
    if (bytes[i] !== OPEN_BRACKET) return undefined;
    if (key.name === 'users' && users === undefined && known !== undefined && isKnownList(bytes, i, known)) {
      users = { list: [i, i + known.length] };
      i += known.length;
    } else if (key.name === 'users' && users === undefined) {
      const elements = elementsOf(bytes, i);
      if (elements === undefined) return undefined;
      users = { list: [i, elements.end], elements: elements.spans };
      i = elements.end;
    } else if (key.name === 'groups' && groups === undefined) {
      const elements = elementsOf(bytes, i);
      if (elements === undefined) return undefined;
      groups = elements.spans;
      i = elements.end;
    } else return undefined;
    i = skipSpace(bytes, i);
  }
  if (skipSpace(bytes, i + 1) !== n) return undefined;
  return { ...(users && { users }), ...(groups && { groups }) };
}

function isKnownList(bytes: Uint8Array, i: number, known: KnownList): boolean {
  const end = i + known.length;
  return end <= bytes.length && bytes[end - 1] === CLOSE_BRACKET && spanDigest(bytes, [i, end]) === known.digest;
}

/** a digest of a span's bytes */
export function spanDigest(bytes: Uint8Array, [start, end]: Span): string {
  return hash('sha1', bytes.subarray(start, end), 'base64');
}

/** the elements of a list of objects starting at `i` (its `[`), and where the list ends (after its `]`) */
function elementsOf(bytes: Uint8Array, i: number): { spans: Span[]; end: number } | undefined {
  const spans: Span[] = [];
  i = skipSpace(bytes, i + 1);
  if (bytes[i] === CLOSE_BRACKET) return { spans, end: i + 1 };
  for (;;) {
    if (bytes[i] !== OPEN_BRACE) return undefined;
    const end = endOfValue(bytes, i);
    if (end < 0) return undefined;
    spans.push([i, end]);
    i = skipSpace(bytes, end);
    if (bytes[i] === CLOSE_BRACKET) return { spans, end: i + 1 };
    if (bytes[i] !== COMMA) return undefined;
    i = skipSpace(bytes, i + 1);
  }
}

/** one of the two keys, written plainly (no escapes), and where it ends */
export function keyAt(bytes: Uint8Array, i: number): { name: string; end: number } | undefined {
  if (bytes[i] !== QUOTE) return undefined;
  for (const name of ['users', 'groups']) {
    const end = i + name.length + 2;
    if (bytes[end - 1] !== QUOTE) continue;
    let same = true;
    for (let k = 0; k < name.length && same; k++) same = bytes[i + 1 + k] === name.charCodeAt(k);
    if (same) return { name, end };
  }
  return undefined;
}

/**
 * Where the object or list starting at `i` ends (after its closing bracket), or -1 when it does not
 * end before `n`. Brackets are
 * counted, strings skipped (a backslash escapes the byte after it); whether the value inside is
 * valid JSON is left to whoever parses it.
 */
export function endOfValue(bytes: Uint8Array, i: number, n = bytes.length): number {
  let depth = 0;
  for (; i < n; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      // one loop over the string, not a search per quote: member lists are many short strings
      for (i++; i < n; i++) {
        const d = bytes[i];
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
      if (i >= n) return -1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}

/** JSON's whitespace: space, tab, line feed, carriage return (up to `n`) */
export function skipSpace(bytes: Uint8Array, i: number, n = bytes.length): number {
  while (i < n) {
    const c = bytes[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    i++;
  }
  return i;
}
