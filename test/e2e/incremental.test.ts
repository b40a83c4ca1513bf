import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { desiredState, startHarness, wireState, type Harness } from '../helpers/harness.js';

interface SyncJson {
  runId: number;
  exitCode: number;
  plan: { ops: { op: string; name: string }[]; warnings: string[] };
}

/** The CLI as a child process: a SCIM provider that filters on meta.lastModified, and a file, read only when they changed. */
describe('convsync sync reads what changed, and nothing when nothing did (end to end)', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  const sync = async () => {
    const res = await h.cli(['sync', '--output', 'json']);
    expect(res.code, res.stderr).toBe(0);
    return JSON.parse(res.stdout) as SyncJson;
  };
  const unchanged = (out: SyncJson) => out.plan.warnings.some((w) => /^unchanged since run \d+/.test(w));
  /** requests to the SCIM provider during `fn` */
  const scimDuring = async <T>(fn: () => Promise<T>) => {
    const before = h.scim.requests.length;
    const value = await fn();
    return { value, requests: h.scim.requests.slice(before) };
  };
  const scimSource = (extra: Record<string, unknown>) => ({
    sources: [{ name: 'corp', type: 'scim', baseUrl: h.scim.baseUrl, auth: { type: 'bearer', tokenFile: './scim-token' }, ...extra }],
  });

  it('SCIM: no change → four short questions, no read, no plan, no Wire call but signing in; changes and a deletion are read by meta.lastModified; a change stamped in the past waits for the full crawl', async () => {
    h = await startHarness({ groups: 4, membersPerGroup: 3, users: 12, scimMaxResults: 3 });
    // one clock on loopback: no skew to cover
    h.writeConfig(scimSource({ lastModifiedOverlap: '0s' }));
    const first = await sync();
    expect(first.plan.ops.filter((o) => o.op === 'create')).toHaveLength(4);

    const wireBefore = h.wire.calls.length;
    const noop = await scimDuring(sync);
    expect(unchanged(noop.value)).toBe(true);
    expect(noop.value.plan.ops).toEqual([]);
    expect(noop.requests.map((r) => r.path)).toEqual(['/scim/v2/Groups', '/scim/v2/Users', '/scim/v2/Groups', '/scim/v2/Users']);
    // who convsync is, still asked: credentials that stopped working fail the run
    expect(h.wire.calls.slice(wireBefore).filter((c) => /conversations/.test(c.path))).toEqual([]);
    expect(h.wire.calls.slice(wireBefore).some((c) => c.path.endsWith('/login'))).toBe(true);

    const [eng, ops] = h.directory.groups;
    h.scim.addMember(eng!.id, h.directory.users[11]!.id);
    h.scim.deleteGroup(ops!.id);
    const changed = await scimDuring(sync);
    expect(unchanged(changed.value)).toBe(false);
    expect(changed.value.plan.ops.map((o) => [o.op, o.name]).sort()).toEqual([
      ['add', 'Team eng'],
      ['unbind', 'Team ops'],
    ]);
    // one group read whole, not four: the rest came from the stored read
    expect(changed.requests.filter((r) => /^\/scim\/v2\/Groups\/g-/.test(r.path)).map((r) => r.path)).toEqual([`/scim/v2/Groups/${eng!.id}`]);
    expect(wireState(h.wire, h.botId).get('Team eng')).toContain(h.wireId(h.directory.users[11]!.id));
    expect(unchanged(await sync())).toBe(true);

    // a change a replica applied late, stamped before the last read: not seen…
    const sales = h.directory.groups[2]!;
    h.scim.addMember(sales.id, h.directory.users[10]!.id);
    h.scim.backdate('Groups', sales.id, '2020-01-01T00:00:00.000Z');
    expect(unchanged(await sync())).toBe(true);
    expect(wireState(h.wire, h.botId).get('Team sales')).not.toContain(h.wireId(h.directory.users[10]!.id));
    // …until the full crawl (fullReadEvery; here made due by setting it to 0s)
    h.writeConfig(scimSource({ lastModifiedOverlap: '0s', fullReadEvery: '0s' }));
    const full = await scimDuring(sync);
    expect(full.requests.filter((r) => /^\/scim\/v2\/Groups\/g-/.test(r.path))).toHaveLength(3);
    expect(full.value.plan.ops.map((o) => [o.op, o.name])).toEqual([['add', 'Team sales']]);
    const state = wireState(h.wire, h.botId);
    // unbound, kept on Wire as it was
    expect(state.delete('Team ops')).toBe(true);
    expect(state).toEqual(desiredState(h.scim, h.wireId));
    expect(h.wire.violations).toEqual([]);
  });

  it('file: unchanged → no read, no plan, no Wire call but signing in, "unchanged" in status; an edit is read and applied', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 3, users: 8 });
    const file = join(h.dir, 'directory.json');
    const write = (extra: string[]) =>
      writeFileSync(
        file,
        JSON.stringify({
          users: h.directory.users.map((u) => ({ id: u.id, userName: u.userName, externalId: u.externalId })),
          groups: h.directory.groups.map((g, i) => ({
            id: g.id,
            displayName: g.displayName,
            members: [...g.members.map((m) => m.value), ...(i === 0 ? extra : [])],
          })),
        }),
      );
    write([]);
    h.writeConfig({ sources: [{ name: 'dir', type: 'file', path: './directory.json' }] });
    expect((await sync()).plan.ops.filter((o) => o.op === 'create')).toHaveLength(2);
    const wireBefore = h.wire.calls.length;
    const noop = await sync();
    expect(unchanged(noop)).toBe(true);
    expect(h.wire.calls.slice(wireBefore).filter((c) => /conversations/.test(c.path))).toEqual([]);
    expect((await h.cli(['status'])).stdout).toMatch(new RegExp(`#${noop.runId} sync +\\S+ +unchanged \\(exit 0\\)`));

    write([h.directory.users[7]!.id]);
    const edited = await sync();
    expect(edited.plan.ops.map((o) => [o.op, o.name])).toEqual([['add', `Team ${h.directory.groups[0]!.displayName.slice(5)}`]]);
    expect(unchanged(await sync())).toBe(true);
  });
});
