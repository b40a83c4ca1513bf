import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

type Op = { op: string; key: string; members?: string[] };
type SavedPlan = { ops: Op[]; blocked: { kind: string; op: Op }[] };

/** `convsync apply F` with a plan edited by hand so that its ops no longer look like what the guards held */
describe('convsync apply: an edited plan cannot slip past the guards', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  const save = (file: string, edit: (plan: SavedPlan) => void) => {
    const plan = JSON.parse(readFileSync(file, 'utf8')) as SavedPlan;
    edit(plan);
    writeFileSync(file, JSON.stringify(plan, null, 2));
  };

  it('a removal past maxRemovalRatio, split into two ops of one conversation, is still past it', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 12, users: 12 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const g = h.directory.groups[0]!;
    h.writeConfig({ guards: { maxRemovalRatio: 0.2, removalRatioMinMembers: 10 } });
    for (const m of g.members.slice(0, 4)) h.scim.removeMember(g.id, m.value);
    const file = join(h.dir, 'plan.json');
    // 4 of 12 members: over maxRemovalRatio 20 %
    expect((await h.cli(['plan', '--out', file])).code).toBe(3);
    save(file, (p) => {
      const held = p.blocked.find((b) => b.kind === 'guard')!.op;
      p.ops.push({ ...held, members: held.members!.slice(0, 2) }, { ...held, members: held.members!.slice(2) });
      p.blocked = [];
    });
    const res = await h.cli(['apply', file]);
    expect(res.code, res.stdout).toBe(1);
    expect(res.stderr).toMatch(/past the guards/);
    expect(h.chatState().get('Team eng')).toHaveLength(12);
  });
});
