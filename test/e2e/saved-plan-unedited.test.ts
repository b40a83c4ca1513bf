import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/** `convsync plan --out F` then `convsync apply F`, nothing edited, nothing changed between: applied */
describe('convsync apply: an unedited plan', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('creates, binds again, removes under the guards while another removal is held, as planned', async () => {
    h = await startHarness({ groups: 4, membersPerGroup: 3, users: 12 });
    const guards = { maxSourceShrink: 0.9 };
    h.writeConfig({ guards });
    expect((await h.cli(['sync'])).code).toBe(0);
    const [a, b, c] = h.directory.groups;
    // c goes: its conversation is let go
    h.scim.deleteGroup(c!.id);
    expect((await h.cli(['sync'])).code).toBe(0);
    // two leave b, past maxRemovalsPerRun 1: held by this run
    h.writeConfig({ guards: { ...guards, maxRemovalsPerRun: 1 } });
    for (const m of b!.members.slice(0, 2)) h.scim.removeMember(b!.id, m.value);
    expect((await h.cli(['sync'])).code).toBe(3);
    h.writeConfig({ guards });
    // c comes back, a new group d, one leaves a
    h.scim.addGroup(c!);
    h.scim.addGroup({ id: 'g-new', displayName: 'team-new', members: [{ value: h.directory.users[0]!.id, type: 'User' }] });
    h.scim.removeMember(a!.id, a!.members[0]!.value);
    const file = join(h.dir, 'plan.json');
    const planned = await h.cli(['plan', '--out', file]);
    expect(planned.code, planned.stderr).toBe(3);
    const ops = JSON.parse(readFileSync(file, 'utf8'))
      .ops.map((o: { op: string }) => o.op)
      .sort();
    expect(ops).toEqual(['create', 'rebind', 'remove']);
    const res = await h.cli(['apply', file]);
    expect(res.stderr).not.toMatch(/refused/);
    expect([0, 3]).toContain(res.code);
    expect(h.chatState().get('Team new')).toHaveLength(1);
    expect(h.chatState().get('Team eng')).toHaveLength(2);
  });
});
