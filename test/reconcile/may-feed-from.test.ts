import { expect, it } from 'vitest';
import type { MappingConfig } from '../../src/config/schema.js';
import { mayFeedFrom } from '../../src/reconcile/plan-run.js';

/**
 * A uniting rule's template becomes a regex with one `[\s\S]*` per variable: a key of another form
 * that holds the template's separators many times backtracks exponentially, and a scoped run (a push)
 * hangs the daemon's run thread in the plan.
 */
it('a template with many variables is matched against a key of another form at once', () => {
  const mappings = [{ match: { source: 'ldap' }, name: '{1}', conversation: '{1}.{2}.{3}.{4}.{5}.{6}.{7}.{8}/end' }] as unknown as MappingConfig[];
  const feeders = mayFeedFrom(mappings, ['ldap']);
  const t = Date.now();
  expect(feeders(`conv:${'.'.repeat(60)}`)).toEqual([]);
  expect(Date.now() - t).toBeLessThan(500);
  // what it does match still matches
  expect(feeders('conv:a.b.c.d.e.f.g.h/end')).toEqual(['ldap']);
  expect(feeders('conv:........../end')).toEqual(['ldap']);
  expect(feeders('conv:a.b.c/end')).toEqual([]);
});

it('templates with regex characters and {0} still read as the keys they render', () => {
  const mappings = [
    { match: { source: 'ldap' }, name: 'x', conversation: 'team (a+b)* {0} $[x]' },
    { match: { source: 'other' }, name: 'x', conversation: 'fixed.key' },
  ] as unknown as MappingConfig[];
  const feeders = mayFeedFrom(mappings, ['ldap', 'other']);
  expect(feeders('conv:team (a+b)* Eng Ops $[x]')).toEqual(['ldap']);
  expect(feeders('conv:team (a+b)*  $[x]')).toEqual(['ldap']);
  expect(feeders('conv:team aab Eng $[x]')).toEqual([]);
  expect(feeders('conv:fixed.key')).toEqual(['other']);
  expect(feeders('conv:fixedXkey')).toEqual([]);
});
