import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * `Authorization: Bearer <token>` compared in constant time (both sides hashed first, so neither
 * the content nor the length of the expected token leaks through timing). The scheme name is
 * case-insensitive (RFC 7235 §2.1), so `bearer xyz` is accepted too.
 */
export function bearerMatches(header: string | undefined, expected: string): boolean {
  const m = /^Bearer +(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = createHash('sha256').update(m[1]!).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
