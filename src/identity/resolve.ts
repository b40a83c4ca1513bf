import type { SourceUser } from '../sources/types.js';

/**
 * Reads the identity attribute of a user: `id`, `externalId`, `userName`, `email` (primary or first
 * address), a dotted path into the resource (`name.givenName`), or an extension attribute written
 * as `<schema URN>:<attribute>` (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`).
 */
export function identityValue(user: SourceUser, from: string): string | undefined {
  switch (from) {
    case 'id':
      return user.id;
    case 'externalId':
      return user.externalId;
    case 'userName':
      return user.userName;
    case 'email':
      return user.emails[0];
  }
  // a field named as a whole (a SAML attribute: urn:oid:0.9.2342.19200300.100.1.3, or Entra's
  // http://schemas.microsoft.com/identity/claims/objectidentifier) before a path of parts
  if (Object.hasOwn(user.raw, from)) return scalar(user.raw[from]);
  let node: unknown = user.raw;
  let path = from;
  if (from.startsWith('urn:')) {
    const cut = from.lastIndexOf(':');
    node = user.raw[from.slice(0, cut)];
    path = from.slice(cut + 1);
  }
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return scalar(node);
}

const scalar = (node: unknown): string | undefined => (typeof node === 'string' && node !== '' ? node : typeof node === 'number' ? String(node) : undefined);

export interface IdentityResolver {
  /** backend user id for a source user, or undefined with the reason recorded */
  resolve(user: SourceUser): string | undefined;
  /** one line per kind of failure, for the plan's warnings */
  warnings(): string[];
}

/**
 * Maps source users to backend user ids through the configured attribute, validated by the
 * backend's own id syntax. Users who cannot be resolved are counted and reported, never guessed.
 */
export function createIdentityResolver(
  from: string,
  parseUserId: (value: string) => string | undefined,
  /** what it means when parseUserId says no */
  rejected = 'not a backend user id',
): IdentityResolver {
  // by user, so a user asked about twice (mapping, then explain) is counted once
  const missing = new Set<SourceUser>();
  const invalid = new Map<SourceUser, string>();
  const label = (user: SourceUser) => user.userName ?? user.id;
  return {
    resolve(user) {
      const value = identityValue(user, from);
      if (value === undefined) {
        missing.add(user);
        return undefined;
      }
      const id = parseUserId(value);
      if (id === undefined) invalid.set(user, value);
      return id;
    },
    warnings() {
      const out: string[] = [];
      if (missing.size > 0) out.push(`${missing.size} user(s) have no ${from}, left out: ${sample([...missing].map(label))}`);
      if (invalid.size > 0)
        out.push(
          `${invalid.size} user(s) have an unusable ${from} (${rejected}), left out: ${sample([...invalid].map(([u, v]) => `${label(u)} (${JSON.stringify(v)})`))}`,
        );
      return out;
    },
  };
}

function sample(list: string[]): string {
  const sorted = [...new Set(list)].sort();
  return sorted.slice(0, 5).join(', ') + (sorted.length > 5 ? `, … (${sorted.length - 5} more)` : '');
}
