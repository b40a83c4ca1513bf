import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/** a removal the guards held back, in a conversation that moves to a new key (its group made again under a new id) */
describe('held removals and a conversation bound again under a new key', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('stay held until the run that held them is approved', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 4, users: 8 });
    const guards = { maxRemovalsPerRun: 3, maxSourceShrink: 0.9 };
    h.writeConfig({ guards });
    expect((await h.cli(['sync'])).code).toBe(0);
    const [eng, ops] = h.directory.groups;
    const engLeft = eng!.members.slice(0, 2).map((m) => m.value);
    const opsLeft = ops!.members.slice(0, 2).map((m) => m.value);
    for (const v of engLeft) h.scim.removeMember(eng!.id, v);
    for (const v of opsLeft) h.scim.removeMember(ops!.id, v);
    // 4 removals > 3: run 2 holds them all back
    const held = await h.cli(['sync']);
    expect(held.code, held.stdout).toBe(3);
    expect(h.chatState().get('Team eng')).toHaveLength(4);

    // ops' two come back; eng is made again under a new id, with the two who stayed
    for (const v of opsLeft) h.scim.addMember(ops!.id, v);
    const stayed = eng!.members.slice(2);
    h.scim.deleteGroup(eng!.id);
    h.scim.addGroup({ id: 'g-eng-again', displayName: eng!.displayName, members: stayed });
    const next = await h.cli(['sync', '--output', 'json']);
    const plan = (JSON.parse(next.stdout) as { plan: { ops: { op: string; key: string }[] } }).plan;
    expect(plan.ops.map((o) => o.op)).toContain('rebind');
    // nobody approved run 2: eng's two are still members
    expect(h.chatState().get('Team eng')).toHaveLength(4);
    expect(next.code).toBe(3);
    // and at the run after, which binds nothing again
    expect((await h.cli(['sync'])).code).toBe(3);
    expect(h.chatState().get('Team eng')).toHaveLength(4);
    // approved: gone
    const approved = await h.cli(['approve', '2']);
    expect(approved.code, approved.stderr).toBe(0);
    expect(h.chatState().get('Team eng')).toHaveLength(2);
  });

  it('a saved plan that binds the conversation again cannot take them out of the hold by hand', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 4, users: 8 });
    const guards = { maxRemovalsPerRun: 3, maxSourceShrink: 0.9 };
    h.writeConfig({ guards });
    expect((await h.cli(['sync'])).code).toBe(0);
    const [eng, ops] = h.directory.groups;
    const opsLeft = ops!.members.slice(0, 2).map((m) => m.value);
    for (const m of eng!.members.slice(0, 2)) h.scim.removeMember(eng!.id, m.value);
    for (const v of opsLeft) h.scim.removeMember(ops!.id, v);
    expect((await h.cli(['sync'])).code).toBe(3);
    for (const v of opsLeft) h.scim.addMember(ops!.id, v);
    h.scim.deleteGroup(eng!.id);
    h.scim.addGroup({ id: 'g-eng-again', displayName: eng!.displayName, members: eng!.members.slice(2) });
    const file = join(h.dir, 'plan.json');
    expect((await h.cli(['plan', '--out', file])).code).toBe(3);
    const plan = JSON.parse(readFileSync(file, 'utf8')) as { ops: unknown[]; blocked: { op: unknown }[] };
    plan.ops.push(...plan.blocked.map((b) => b.op));
    plan.blocked = [];
    writeFileSync(file, JSON.stringify(plan));
    const res = await h.cli(['apply', file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/held back by guards since run 2/);
    expect(h.chatState().get('Team eng')).toHaveLength(4);
  });
});
