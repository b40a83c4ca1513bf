import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema.js';
import { guidString } from '../../src/sources/ldap/ad.js';
import { dnKey, memberDn } from '../../src/sources/ldap/entry.js';
import { formatGeneralizedTime, parseGeneralizedTime } from '../../src/sources/ldap/time.js';

const base = {
  store: { path: ':memory:' },
  backend: { type: 'protocol', baseUrl: 'http://127.0.0.1:9', auth: { type: 'bearer', token: 'x' } },
  mappings: [{ match: { source: 'corp' }, name: '{displayName}' }],
};
const ldap = {
  name: 'corp',
  type: 'ldap',
  url: 'ldaps://dc1.example.com:636',
  bindDn: 'cn=convsync,dc=example,dc=com',
  passwordFile: '/run/secrets/p',
  groups: { baseDn: 'ou=groups,dc=example,dc=com' },
  users: { baseDn: 'ou=people,dc=example,dc=com' },
};

function problems(source: Record<string, unknown>): string[] {
  const r = ConfigSchema.safeParse({ ...base, sources: [{ ...ldap, ...source }] });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.slice(2).join('.')}: ${i.message}`);
}

describe('LDAP source parts', () => {
  it('gives one DN one key however it is spelt', () => {
    const key = dnKey('uid=u1,ou=people,dc=example,dc=com');
    expect(dnKey('UID=u1, OU=People,DC=example, dc=COM')).toBe(key);
    expect(dnKey('uid = u1 , ou=people,dc=example,dc=com')).toBe(key);
    expect(dnKey('uid=\\75\\31,ou=people,dc=example,dc=com')).toBe(key);
    // an escaped comma stays part of the value
    expect(dnKey('cn=Doe\\, John,ou=people,dc=example,dc=com')).toBe('cn=doe\\, john,ou=people,dc=example,dc=com');
    expect(dnKey('cn=Doe\\2C John,ou=people,dc=example,dc=com')).toBe('cn=doe\\, john,ou=people,dc=example,dc=com');
    expect(memberDn("uid=u3,ou=people,dc=example,dc=com#'0101'B")).toBe('uid=u3,ou=people,dc=example,dc=com');
    expect(memberDn('uid=u3,ou=people,dc=example,dc=com')).toBe('uid=u3,ou=people,dc=example,dc=com');
  });

  it('shows objectGUID as AD tools do (MS-DTYP 2.3.4)', () => {
    expect(guidString(Buffer.from('ff19966f868b11d0b42d00c04fc964ff', 'hex'))).toBe('6f9619ff-8b86-d011-b42d-00c04fc964ff');
    expect(guidString(Buffer.alloc(15))).toBeUndefined();
  });

  it('reads GeneralizedTime as servers write it, and writes the whole seconds a filter compares', () => {
    const at = Date.parse('2026-11-27T06:23:49.000Z');
    expect(parseGeneralizedTime('20261127062349Z')).toBe(at);
    expect(parseGeneralizedTime('20261127062349.5Z')).toBe(at + 500);
    expect(parseGeneralizedTime('20261127062349.0Z')).toBe(at);
    expect(parseGeneralizedTime('20261127072349+0100')).toBe(at);
    expect(parseGeneralizedTime('202611270623Z')).toBe(at - 49_000);
    expect(parseGeneralizedTime('2026-11-27T06:23:49Z')).toBeUndefined();
    expect(formatGeneralizedTime(at + 999)).toBe('20261127062349Z');
  });

  it("accepts the issue's configuration and refuses mistakes with their paths", () => {
    expect(
      problems({
        url: ['ldaps://dc1.example.com:636', 'ldap://dc2.example.com'],
        startTls: false,
        tls: { caFile: '/etc/ca.pem' },
        pageSize: 500,
        expandNested: true,
      }),
    ).toEqual([]);
    expect(problems({ url: 'https://dc1.example.com' })).toEqual([expect.stringMatching(/^url: .*ldap:\/\/host\[:port\] or ldaps:/)]);
    expect(problems({ url: 'ldap://dc1.example.com/dc=example,dc=com' })).toEqual([expect.stringMatching(/^url: .*no base DN/)]);
    expect(problems({ startTls: true })).toEqual(['startTls: startTls is for ldap:// URLs; ldaps:// is TLS from the start']);
    expect(problems({ passwordFile: undefined })).toEqual(['passwordFile: password or passwordFile is required with bindDn']);
    expect(problems({ bindDn: undefined })).toEqual(['bindDn: a password needs a bindDn']);
    expect(problems({ password: 'x' })).toEqual(['passwordFile: give either password or passwordFile, not both']);
    expect(problems({ groups: { baseDn: 'ou=groups,dc=example,dc=com', filter: '(objectClass=group' } })).toEqual([
      expect.stringMatching(/^groups\.filter: must be one LDAP filter in parentheses/),
    ]);
    expect(problems({ groups: { baseDn: 'ou=groups,dc=example,dc=com', filter: '(a=1)(b=2)' } })).toEqual([
      expect.stringMatching(/^groups\.filter: must be one LDAP filter/),
    ]);
    expect(problems({ groups: { baseDn: 'groups', memberAttribute: 'members' } })).toEqual([
      expect.stringMatching(/^groups\.baseDn: must be a distinguished name/),
      'groups.memberAttribute: must be one of: member, uniqueMember, memberUid',
    ]);
    expect(problems({ bogus: 1 })).toEqual([expect.stringMatching(/Unrecognized key: "bogus"/)]);
    expect(problems({ fullReadEvery: '0s', modifyTimestampOverlap: '15m', idPageSize: 1000 })).toEqual([]);
    expect(problems({ fullReadEvery: 'daily', idPageSize: 0 })).toEqual([
      'fullReadEvery: must be a duration such as 90s, 15m, 1h or 2d',
      expect.stringMatching(/^idPageSize: Too small/),
    ]);
  });
});
