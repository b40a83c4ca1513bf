/** A group's key is `<source>:<id at the source>`: stable across renames, unique across sources. */
export function groupKey(source: string, id: string): string {
  return `${source}:${id}`;
}

/** the source a group key belongs to */
export function sourceOfGroup(key: string): string {
  const i = key.indexOf(':');
  return i < 0 ? key : key.slice(0, i);
}
