import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/** the run a saved plan names made the plan of the snapshot the file names: an older plan's ops under a newer digest are an edit */
describe('convsync apply: a stale plan given the digest of a newer one', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  type PlanFile = { runId?: number; snapshotDigest: string; ops: { op: string; name: string; members?: string[] }[] };

  it('is refused: it would add someone who left the group since', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 3, users: 10 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const [eng, ops] = h.directory.groups;
    const outside = h.directory.users.filter((u) => ![...eng!.members, ...ops!.members].some((m) => m.value === u.id));
    const leaver = outside[0]!;
    h.scim.addMember(eng!.id, leaver.id);
    const old = join(h.dir, 'old.json');
    expect((await h.cli(['plan', '--out', old])).code).toBe(0);
    expect((JSON.parse(readFileSync(old, 'utf8')) as PlanFile).ops.map((o) => o.op)).toEqual(['add']);

    // the leaver leaves before anything is applied; someone else joins the other group, and a sync applies that
    h.scim.removeMember(eng!.id, leaver.id);
    h.scim.addMember(ops!.id, outside[1]!.id);
    expect((await h.cli(['sync'])).code).toBe(0);
    // the stale plan is refused as it is
    let res = await h.cli(['apply', old]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/snapshot digest differs/);

    // a new plan (nothing to do) gives the digest of the conversations now
    const fresh = join(h.dir, 'fresh.json');
    expect((await h.cli(['plan', '--out', fresh])).code).toBe(0);
    const digest = (JSON.parse(readFileSync(fresh, 'utf8')) as PlanFile).snapshotDigest;
    const edited = JSON.parse(readFileSync(old, 'utf8')) as PlanFile;
    edited.snapshotDigest = digest;
    writeFileSync(old, JSON.stringify(edited, null, 2));
    const writes = h.wire.writeCalls().length;
    res = await h.cli(['apply', old]);
    expect(res.code, res.stdout + res.stderr).toBe(1);
    expect(h.wire.writeCalls().length).toBe(writes);
    const conv = [...h.wire.conversations.values()].find((c) => c.name === `Team ${eng!.displayName.replace(/^team-/, '')}`)!;
    expect(conv.members.has(h.wireId(leaver.id))).toBe(false);
  }, 60_000);
});
