import { describe, expect, it } from 'vitest';
import type { MappingConfig } from '../../src/config/schema.js';
import { scopeOfChange } from '../../src/reconcile/changed-groups.js';
import type { DesiredGroup } from '../../src/sources/types.js';
import type { ConversationGroups } from '../../src/store/binding-groups.js';

const group = (id: string, displayName: string): DesiredGroup => ({ key: `dir:${id}`, source: 'dir', id, displayName, members: [], complete: true });
const rules: MappingConfig[] = [
  { match: { displayName: '^team-' }, name: '{displayName}', remove: 'managed', readdLeavers: false, recreateDeleted: false },
  { match: { displayName: '^all-' }, name: 'All', conversation: 'all', remove: 'managed', readdLeavers: false, recreateDeleted: false },
];
const bindings: ConversationGroups[] = [
  { key: 'group:dir:a', groups: ['dir:a'], bound: true },
  { key: 'conv:all', groups: ['dir:b', 'dir:c'], bound: true },
  { key: 'group:dir:old', groups: ['dir:c'], bound: false },
];
const listing = (keys: readonly string[]) => bindings.filter((b) => b.groups.some((g) => keys.includes(g)));
const stored = new Map([
  ['dir:a', 'pa'],
  ['dir:b', 'pb'],
  ['dir:c', 'pc'],
]);
const differ = (prints: ReadonlyMap<string, string>) => {
  const changed = [...prints].filter(([k, p]) => stored.get(k) !== p).map(([k]) => k);
  return { changed, fresh: changed.filter((k) => !stored.has(k)), gone: [...stored.keys()].filter((k) => !prints.has(k)).length };
};

describe('the scope of a plan of what changed', () => {
  const groups = [group('a', 'team-a'), group('b', 'all-b'), group('c', 'all-c')];

  it('takes every group of a conversation one changed group feeds, and what any of them fed', () => {
    const scope = scopeOfChange(groups, new Map([...stored, ['dir:c', 'pc2']]), differ, rules, listing);
    expect(scope).toEqual({
      keys: new Set(['dir:c', 'dir:b']),
      changed: 1,
      conversations: new Set(['conv:all']),
      reach: new Set(['conv:all', 'group:dir:old']),
    });
  });

  it('is none when a group key is read twice, a group is gone or new, or a changed group feeds another conversation', () => {
    const prints = new Map([...stored, ['dir:a', 'pa2']]);
    expect(scopeOfChange([...groups, group('a', 'team-a')], prints, differ, rules, listing)).toBe('1 group key(s) read twice');
    expect(scopeOfChange(groups.slice(0, 2), new Map([...prints].slice(0, 2)), differ, rules, listing)).toMatch(/gone/);
    expect(scopeOfChange([...groups, group('d', 'team-d')], new Map([...prints, ['dir:d', 'pd']]), differ, rules, listing)).toMatch(/new group/);
    expect(scopeOfChange([group('a', 'all-a'), ...groups.slice(1)], prints, differ, rules, listing)).toMatch(/feeds another conversation/);
  });
});
