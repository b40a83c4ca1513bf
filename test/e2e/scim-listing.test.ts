import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { desiredState, startHarness, wireState, type Harness } from '../helpers/harness.js';

interface SyncJson {
  exitCode: number;
  plan: { ops: { op: string; key: string; name: string }[]; warnings: string[] };
  readErrors: string[];
}

/** The CLI as a child process, a SCIM directory that changes while it is crawled, Wire on loopback. */
describe('convsync sync: a SCIM listing is complete only when it is (end to end)', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  /** Wire conversation name → the state of its binding in the store */
  const bindings = (): Map<string, string | undefined> => {
    const store = Store.open(join(h.dir, 'convsync.db'));
    try {
      return new Map([...h.wire.conversations.values()].map((c) => [c.name ?? '', store.bindingByConversation(c.id)?.state]));
    } finally {
      store.close();
    }
  };
  const creates = () => h.wire.writeCalls().filter((c) => c.method === 'POST' && /\/conversations$/.test(c.path) && c.status < 400);

  it('unbinds nothing while a group vanishes mid-crawl (exit 1, listing incomplete); the next clean sync unbinds exactly that group', async () => {
    // two groups a page: deleting team-ops once page 1 is sent shifts page 2 past team-sales
    h = await startHarness({ groups: 5, membersPerGroup: 3, scimMaxResults: 2 });
    // the full crawl, every run: a read by meta.lastModified sees the deletion whole (test/e2e/incremental.test.ts)
    h.writeConfig({
      sources: [{ name: 'corp', type: 'scim', baseUrl: h.scim.baseUrl, auth: { type: 'bearer', tokenFile: './scim-token' }, fullReadEvery: '0s' }],
    });
    const first = await h.cli(['sync']);
    expect(first.code, first.stderr).toBe(0);
    expect(wireState(h.wire, h.botId)).toEqual(desiredState(h.scim, h.wireId));
    expect(creates()).toHaveLength(5);
    const all = ['Team design', 'Team eng', 'Team ops', 'Team sales', 'Team support'];
    expect([...bindings().entries()].sort()).toEqual(all.map((n) => [n, 'bound']));
    const before = wireState(h.wire, h.botId);

    const ops = h.directory.groups.find((g) => g.displayName === 'team-ops')!;
    h.scim.deleteGroupDuringCrawl(ops.id, 1);
    const writes = h.wire.writeCalls().length;
    const second = await h.cli(['sync', '--output', 'json']);
    expect(second.code, second.stderr).toBe(1);
    const out = JSON.parse(second.stdout) as SyncJson;
    expect(out.exitCode).toBe(1);
    expect(out.plan.ops).toEqual([]);
    expect(out.readErrors).toContain('source corp: the group listing was incomplete');
    const said = out.plan.warnings.join('\n');
    expect(said).toMatch(/source corp: \/Groups totalResults changed from 5 to 4 at the page at startIndex 3/);
    expect(said).toMatch(new RegExp(`group ${ops.id} \\("team-ops"\\) was listed, then answered 404`));
    expect(said).toMatch(/the group listing was incomplete \(4 distinct group\(s\) received, totalResults 4\)/);
    // the group skipped by the shift (team-sales) and the deleted one both stay bound, untouched
    expect(said).toMatch(/groups of .* not listed, but source "corp" was read incompletely: kept as is/);
    expect(h.wire.writeCalls().length).toBe(writes);
    expect(wireState(h.wire, h.botId)).toEqual(before);
    expect([...bindings().entries()].sort()).toEqual(all.map((n) => [n, 'bound']));
    expect((await h.cli(['status'])).stdout).toMatch(/5 conversation\(s\) bound/);

    const third = await h.cli(['sync', '--output', 'json']);
    expect(third.code, third.stderr).toBe(0);
    const clean = JSON.parse(third.stdout) as SyncJson;
    expect(clean.readErrors).toEqual([]);
    expect(clean.plan.ops.map((o) => [o.op, o.name])).toEqual([['unbind', 'Team ops']]);
    // unbound, not deleted: the conversation stays on Wire with its members
    expect(wireState(h.wire, h.botId)).toEqual(before);
    expect([...bindings().entries()].sort()).toEqual(all.map((n) => [n, n === 'Team ops' ? 'unbound' : 'bound']));
    expect(creates()).toHaveLength(5);
    expect(h.wire.conversations.size).toBe(5);
    expect(h.wire.violations).toEqual([]);
    expect((await h.cli(['status'])).stdout).toMatch(/4 conversation\(s\) bound/);
  });
});
