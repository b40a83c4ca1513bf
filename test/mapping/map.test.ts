import { describe, expect, it } from 'vitest';
import type { MappingConfig } from '../../src/config/schema.js';
import { createIdentityResolver, identityValue } from '../../src/identity/resolve.js';
import { conversationKeyOf, mapGroups, matchGroup } from '../../src/mapping/map.js';
import { seededRandom } from '../../src/sandbox/random.js';
import { renderTemplate } from '../../src/template.js';
import type { DesiredGroup, SourceUser } from '../../src/sources/types.js';

const UUID = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

function user(n: number, extra: Partial<SourceUser> = {}): SourceUser {
  return { id: `u${n}`, userName: `user${n}`, externalId: UUID(n), emails: [`user${n}@example.com`], active: true, raw: {}, ...extra };
}

function group(id: string, displayName: string, members: SourceUser[], extra: Partial<DesiredGroup> = {}): DesiredGroup {
  return { key: `corp:${id}`, source: 'corp', id, displayName, members, complete: true, ...extra };
}

function rule(r: Partial<MappingConfig> & Pick<MappingConfig, 'match' | 'name'>): MappingConfig {
  return { remove: 'managed', readdLeavers: false, recreateDeleted: false, onGroupRemoved: 'keep', ...r };
}

const wireIds = (v: string) => (/^[0-9a-f-]{36}$/.test(v) ? v : undefined);

describe('mapping', () => {
  it('finds the conversation of a group by testing the patterns as matching them with their variables does', () => {
    const random = seededRandom(5);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    const patterns = [undefined, '^team-(.+)$', '^(?<team>[a-z]+)-(\\d+)$', 'ops', '^g\\d$', '^$'];
    const names = ['team-eng', 'eng-42', 'ops', 'devops-7', 'g1', 'g12', '', 'team-'];
    let conv = 0;
    for (let trial = 0; trial < 1500; trial++) {
      const mappings = Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
        rule({
          match: { displayName: pick(patterns), id: pick(patterns), source: pick([undefined, 'corp', 'hr']) },
          name: 'N {1}',
          ...(random() < 0.5 ? { conversation: pick(['{team}', 'all', '{1}-{source}', '{displayName}']) } : {}),
        }),
      );
      const g = { ...group(pick(names), pick(names), []), source: pick(['corp', 'hr']) };
      const matched = matchGroup(g, mappings);
      const template = matched && mappings[matched.rule]!.conversation;
      const expected = matched && (template ? `conv:${renderTemplate(template, matched.vars)}` : `group:${g.key}`);
      expect(conversationKeyOf(g, mappings), JSON.stringify({ g, mappings })).toBe(expected);
      if (expected?.startsWith('conv:')) conv++;
    }
    expect(conv).toBeGreaterThan(40);
  });

  it('renders names from regex groups, named groups and group fields', () => {
    expect(renderTemplate('Team {1}', { '1': 'eng' })).toBe('Team eng');
    expect(renderTemplate('{team} ({source})', { team: 'ops', source: 'corp' })).toBe('ops (corp)');
    expect(renderTemplate('{missing}', {})).toBe('{missing}');
  });

  it('resolves each user once per call, and afresh in the next call (another identity, another numbering)', () => {
    const people = [user(1), user(2), user(3)];
    const groups = [group('g1', 'team-a', [people[0]!, people[1]!]), group('g2', 'team-b', [people[1]!, people[2]!, people[1]!])];
    const mappings = [rule({ match: { displayName: '^team-(.+)$' }, name: '{1}' })];
    const asked: string[] = [];
    const first = mapGroups(groups, mappings, (u) => (asked.push(u.id), u.externalId));
    expect(asked).toEqual(['u1', 'u2', 'u3']);
    expect(first.conversations.map((c) => c.members.ids)).toEqual([
      [UUID(1), UUID(2)],
      [UUID(2), UUID(3)],
    ]);
    const second = mapGroups(groups, mappings, (u) => (u.id === 'u2' ? undefined : u.userName));
    expect(second.conversations.map((c) => c.members.ids)).toEqual([['user1'], ['user3']]);
  });

  it('first matching rule wins; unmatched groups are counted, not mapped', () => {
    const mappings = [
      rule({ match: { displayName: '^team-(eng)$' }, name: 'Engineering', remove: 'authoritative' }),
      rule({ match: { displayName: '^team-(.+)$' }, name: 'Team {1}' }),
    ];
    const out = mapGroups(
      [group('g1', 'team-eng', [user(1)]), group('g2', 'team-ops', [user(2)]), group('g3', 'all-staff', [user(3)])],
      mappings,
      (u) => u.externalId,
    );
    expect(out.conversations.map((c) => [c.key, c.name, c.rule, c.remove])).toEqual([
      ['group:corp:g1', 'Engineering', 0, 'authoritative'],
      ['group:corp:g2', 'Team ops', 1, 'managed'],
    ]);
    expect(out.unmatched).toBe(1);
  });

  it('unites groups that render the same conversation key, and leaves deactivated users out', () => {
    const mappings = [rule({ match: { displayName: '^(eng|ops)-oncall$' }, conversation: 'oncall', name: 'On-call' })];
    const out = mapGroups(
      [
        group('g1', 'eng-oncall', [user(1), user(2)]),
        group('g2', 'ops-oncall', [user(2), user(3, { active: false })], { complete: false, unknownReason: 'page failed' }),
      ],
      mappings,
      (u) => u.externalId,
    );
    expect(out.conversations).toHaveLength(1);
    expect(out.conversations[0]).toMatchObject({ key: 'conv:oncall', groups: ['corp:g1', 'corp:g2'], complete: false });
    expect(out.conversations[0]!.members.ids).toEqual([UUID(1), UUID(2)]);
    expect(out.conversations[0]!.unknownReasons[0]).toMatch(/page failed/);
  });

  it("keeps a conversation fed through two rules as the first rule says, whatever its groups' ids, and warns that they differ", () => {
    const mappings = [
      rule({ match: { displayName: '^eng-(.+)$' }, conversation: 'team-{1}', name: 'Team {1}', remove: 'never' }),
      rule({ match: { displayName: '^ops-(.+)$' }, conversation: 'team-{1}', name: 'Ops {1}', remove: 'authoritative', onGroupRemoved: 'delete' }),
    ];
    const eng = group('b-111', 'eng-x', [user(1)]);
    for (const ops of [group('c-222', 'ops-x', [user(2)]), group('a-000', 'ops-x', [user(2)])]) {
      const { conversations, warnings } = mapGroups([eng, ops], mappings, (u) => u.externalId);
      expect(conversations[0]).toMatchObject({ rule: 0, name: 'Team x', remove: 'never', onGroupRemoved: 'keep' });
      expect(conversations[0]!.members.size).toBe(2);
      expect(warnings).toContain("conv:team-x is fed by groups of rules #0, #1, which keep it differently: rule #0's settings apply");
    }
    // rules that keep it alike: no word about it
    const alike = [mappings[0]!, { ...mappings[1]!, remove: 'never' as const, onGroupRemoved: 'keep' as const }];
    expect(mapGroups([eng, group('a-000', 'ops-x', [user(2)])], alike, (u) => u.externalId).warnings.filter((w) => /keep it differently/.test(w))).toEqual([]);
  });

  it('matches on id and source too', () => {
    const out = mapGroups(
      [group('abc-1', 'x', [user(1)]), group('zzz', 'y', [user(2)])],
      [rule({ match: { id: '^abc-', source: 'corp' }, name: '{displayName}' })],
      (u) => u.externalId,
    );
    expect(out.conversations.map((c) => c.name)).toEqual(['x']);
  });
});

describe('identity', () => {
  it('reads id, externalId, userName, email, dotted paths and extension attributes', () => {
    const u = user(1, { raw: { name: { givenName: 'Ada' }, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { employeeNumber: 42 } } });
    expect(identityValue(u, 'id')).toBe('u1');
    expect(identityValue(u, 'externalId')).toBe(UUID(1));
    expect(identityValue(u, 'userName')).toBe('user1');
    expect(identityValue(u, 'email')).toBe('user1@example.com');
    expect(identityValue(u, 'name.givenName')).toBe('Ada');
    expect(identityValue(u, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber')).toBe('42');
    expect(identityValue(u, 'name.familyName')).toBeUndefined();
  });

  it('reports users without a usable backend id as warnings, and leaves them out', () => {
    const resolver = createIdentityResolver('externalId', wireIds);
    const users = [user(1), user(2, { externalId: 'not-a-uuid' }), user(3, { externalId: undefined as unknown as string })];
    delete (users[2] as { externalId?: string }).externalId;
    const out = mapGroups([group('g1', 'team-x', users)], [rule({ match: { displayName: '^team-(.+)$' }, name: '{1}' })], (u) => resolver.resolve(u));
    expect(out.conversations[0]!.members.ids).toEqual([UUID(1)]);
    expect(resolver.warnings()).toEqual([
      '1 user(s) have no externalId, left out: user3',
      '1 user(s) have an unusable externalId (not a backend user id), left out: user2 ("not-a-uuid")',
    ]);
  });

  it('counts a user asked about twice (mapping, then explain) once', () => {
    const resolver = createIdentityResolver('externalId', wireIds);
    const odd = user(2, { externalId: 'not-a-uuid' });
    const bare = user(3);
    delete (bare as { externalId?: string }).externalId;
    for (let i = 0; i < 2; i++) for (const u of [odd, bare]) expect(resolver.resolve(u)).toBeUndefined();
    expect(resolver.warnings()).toEqual([
      '1 user(s) have no externalId, left out: user3',
      '1 user(s) have an unusable externalId (not a backend user id), left out: user2 ("not-a-uuid")',
    ]);
  });
});
