import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/** `convsync apply F` applies only ops the `convsync plan` run named in F planned: some may be left out, none added or changed */
describe('convsync apply: a saved plan checked against the run that made it', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  type PlanFile = { runId?: number; ops: { op: string; name: string; members?: string[] }[] };
  const edit = (file: string, change: (plan: PlanFile) => void) => {
    const plan = JSON.parse(readFileSync(file, 'utf8')) as PlanFile;
    change(plan);
    writeFileSync(file, JSON.stringify(plan, null, 2));
  };

  it('refuses an op changed by hand (someone added, a rename), applies one left out', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 3, users: 10 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const [eng, ops] = h.directory.groups;
    const joining = h.directory.users.filter((u) => ![...eng!.members, ...ops!.members].some((m) => m.value === u.id));
    h.scim.addMember(eng!.id, joining[0]!.id);
    h.scim.addMember(ops!.id, joining[1]!.id);
    const file = join(h.dir, 'plan.json');
    expect((await h.cli(['plan', '--out', file])).code).toBe(0);
    const saved = readFileSync(file, 'utf8');
    expect((JSON.parse(saved) as PlanFile).runId).toBeGreaterThan(0);
    expect((JSON.parse(saved) as PlanFile).ops.map((o) => o.op)).toEqual(['add', 'add']);
    const writes = h.wire.writeCalls().length;

    // someone the directory does not put there, added to an op
    edit(file, (p) => p.ops[0]!.members!.push(h.wireId(joining[2]!.id)));
    let res = await h.cli(['apply', file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/refused: the plan's op to add "Team .*" \(.*\) is not one run \d+ planned: the file was edited/);
    // an op of another kind put in (a rename of a conversation convsync owns)
    writeFileSync(file, saved);
    edit(file, (p) => p.ops.push({ ...p.ops[0]!, op: 'rename', name: 'Pwned' } as never));
    res = await h.cli(['apply', file]);
    expect(res.code).toBe(1);
    // the run named, edited to one that made no plan
    writeFileSync(file, saved);
    edit(file, (p) => (p.runId = 1));
    res = await h.cli(['apply', file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/run 1 is no convsync plan whose plan is still recorded/);
    // no run named at all
    writeFileSync(file, saved);
    edit(file, (p) => delete p.runId);
    res = await h.cli(['apply', file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/the plan names no run of convsync plan that made it/);
    expect(h.wire.writeCalls().length).toBe(writes);

    // one op left out: the other is applied
    writeFileSync(file, saved);
    edit(file, (p) => p.ops.splice(1, 1));
    res = await h.cli(['apply', file]);
    expect(res.code, res.stderr).toBe(0);
    const conv = [...h.wire.conversations.values()].find((c) => c.name === `Team ${eng!.displayName.replace(/^team-/, '')}`)!;
    expect(conv.members.has(h.wireId(joining[0]!.id))).toBe(true);
    expect(conv.members.has(h.wireId(joining[2]!.id))).toBe(false);
  }, 60_000);
});
