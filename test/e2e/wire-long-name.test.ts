import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/** A mapping whose name renders past Wire's 256 characters: no call Wire refuses for good, run after run. */
describe('Wire: a conversation name over 256 characters', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('is held back by the plan with a clear reason, not sent (and refused) at every run', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 3, users: 8 });
    const long = `Team {1} ${'x'.repeat(260)}`;
    h.writeConfig({ mappings: [{ match: { displayName: '^team-(.+)$' }, name: long, remove: 'managed' }] });
    const creates = () => h.wire.calls.filter((c) => c.method === 'POST' && /^\/v\d+\/conversations$/.test(c.path));
    const first = await h.cli(['sync', '--output', 'json']);
    const second = await h.cli(['sync', '--output', 'json']);
    // today: every run sends both creates and Wire answers 400 bad-request to each
    expect(creates().filter((c) => c.status === 400)).toEqual([]);
    const plan = (JSON.parse(first.stdout) as { plan: { blocked: { kind: string; why: string; op: { op: string } }[] } }).plan;
    expect(plan.blocked.filter((b) => b.op.op === 'create').map((b) => b.why)).toEqual([expect.stringMatching(/256/), expect.stringMatching(/256/)]);
    expect([first.code, second.code]).toEqual([0, 0]);
  });

  it('a rename to a name over 256 characters is held back, the conversation kept in line otherwise', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 3, users: 8 });
    expect((await h.cli(['sync'])).code).toBe(0);
    h.writeConfig({ mappings: [{ match: { displayName: '^team-(.+)$' }, name: `Team {1} ${'y'.repeat(260)}`, remove: 'managed' }] });
    const [eng] = h.directory.groups;
    h.scim.addMember(eng!.id, h.directory.users[7]!.id);
    const run = await h.cli(['sync', '--output', 'json']);
    const renames = h.wire.calls.filter((c) => c.method === 'PUT' && c.path.endsWith('/name'));
    expect(renames.filter((c) => c.status === 400)).toEqual([]);
    expect(run.code, run.stderr).toBe(0);
    expect(h.chatState().get('Team eng')).toHaveLength(4);
  });
});
