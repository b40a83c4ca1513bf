import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../src/errors.js';
import type { LdapEntry } from '../../src/sources/ldap/entry.js';
import type { SearchContext } from '../../src/sources/ldap/paged-search.js';
import { allValues } from '../../src/sources/ldap/range.js';

/** an entry as the connection hands it over: attributes by lower-cased name, options included */
const entry = (types: Record<string, string[]>): LdapEntry => ({
  dn: 'CN=everyone,OU=Groups,DC=corp,DC=example',
  attrs: new Map(Object.entries(types).map(([type, values]) => [type.toLowerCase(), { type, values, buffers: values.map((v) => Buffer.from(v)) }])),
});
// nothing is asked of the server before the first range is read
const ctx = { origin: 'ldap:corp' } as SearchContext;

describe('range retrieval: what a first answer holds', () => {
  it('takes the plain attribute whole, and a last range as the rest', async () => {
    expect(await allValues(ctx, entry({ member: ['a', 'b'] }), 'member')).toEqual(['a', 'b']);
    expect(await allValues(ctx, entry({ 'member;range=0-*': ['a', 'b'] }), 'member')).toEqual(['a', 'b']);
  });

  it('refuses a range option it cannot read rather than take the group as having no members', async () => {
    const odd = allValues(ctx, entry({ 'member;range=0-1499;x': ['a'] }), 'member');
    await expect(odd).rejects.toThrow(PermanentError);
    await expect(odd).rejects.toMatchObject({
      label: 'range-lost',
      message: 'member;range=0-1499;x of CN=everyone,OU=Groups,DC=corp,DC=example: a range option that is not first-last',
    });
  });
});
