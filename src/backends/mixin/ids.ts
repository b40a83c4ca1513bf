import { createHash } from 'node:crypto';

/**
 * Mixin's deterministic ids (reference §2.4): MD5 of the byte-wise smaller UTF-8 string followed by
 * the larger, with the UUID version-3 and RFC 4122 variant bits set. Byte-wise, not UTF-16: a
 * non-ASCII group name must give the same id as the Go reference implementation.
 */
export function uniqueConversationId(a: string, b: string): string {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  const [min, max] = Buffer.compare(x, y) <= 0 ? [x, y] : [y, x];
  const d = createHash('md5')
    .update(Buffer.concat([min, max]))
    .digest();
  d[6] = (d[6]! & 0x0f) | 0x30;
  d[8] = (d[8]! & 0x3f) | 0x80;
  const hex = d.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** GROUP id: U(owner, name), then U(·, random_id), then U(·, p) for each participant in byte order */
export function groupConversationId(ownerId: string, name: string, participants: readonly string[], randomId: string): string {
  let id = uniqueConversationId(ownerId, name);
  id = uniqueConversationId(id, randomId.toLowerCase());
  const sorted = [...participants].sort((p, q) => Buffer.compare(Buffer.from(p, 'utf8'), Buffer.from(q, 'utf8')));
  for (const p of sorted) id = uniqueConversationId(id, p);
  return id;
}
