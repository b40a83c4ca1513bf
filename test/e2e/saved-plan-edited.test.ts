import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/** `convsync apply F` with a plan that is no longer what `plan --out` made, or no longer what the configuration allows */
describe('convsync apply: a saved plan checked against the configuration and the snapshot', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  const save = (file: string, edit: (plan: { ops: unknown[]; blocked: { kind: string; op: unknown }[] }) => void) => {
    const plan = JSON.parse(readFileSync(file, 'utf8'));
    edit(plan);
    writeFileSync(file, JSON.stringify(plan, null, 2));
  };

  it('a create op written twice in the file makes no second conversation', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 3 });
    const file = join(h.dir, 'plan.json');
    expect((await h.cli(['plan', '--out', file])).code).toBe(0);
    save(file, (p) => p.ops.push(p.ops[0]));
    const res = await h.cli(['apply', file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/refused: the plan creates "Team eng".*made twice/);
    expect(h.wire.conversations.size).toBe(0);
  });

  it('a create op for a key that is bound already makes no second conversation', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 3 });
    const file = join(h.dir, 'plan.json');
    expect((await h.cli(['plan', '--out', file])).code).toBe(0);
    const create = JSON.parse(readFileSync(file, 'utf8')).ops[0];
    expect((await h.cli(['sync'])).code).toBe(0);
    expect((await h.cli(['plan', '--out', file])).code).toBe(0);
    // the digest is the current one; only the op was added by hand
    save(file, (p) => p.ops.push(create));
    const writes = h.wire.writeCalls().length;
    const res = await h.cli(['apply', file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/made twice/);
    expect(h.wire.writeCalls().length).toBe(writes);
    expect(h.wire.conversations.size).toBe(1);
  });

  it('a removal planned under policy sync is not applied once the policy is upsert-only', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 4 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const g = h.directory.groups[0]!;
    h.scim.removeMember(g.id, g.members[0]!.value);
    const file = join(h.dir, 'plan.json');
    expect((await h.cli(['plan', '--out', file])).code).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8')).ops.map((o: { op: string }) => o.op)).toEqual(['remove']);
    h.writeConfig({ policy: 'upsert-only' });
    const writes = h.wire.writeCalls().length;
    const res = await h.cli(['apply', file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/policy upsert-only never does/);
    expect(h.wire.writeCalls().length).toBe(writes);
  });

  it('removals the guards held back, moved into ops by hand, are not applied', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 4 });
    expect((await h.cli(['sync'])).code).toBe(0);
    h.writeConfig({ guards: { maxRemovalsPerRun: 1 } });
    const g = h.directory.groups[0]!;
    for (const m of g.members.slice(0, 2)) h.scim.removeMember(g.id, m.value);
    const file = join(h.dir, 'plan.json');
    expect((await h.cli(['plan', '--out', file])).code).toBe(3);
    save(file, (p) => {
      p.ops.push(...p.blocked.filter((b) => b.kind === 'guard').map((b) => b.op));
      p.blocked = [];
    });
    const writes = h.wire.writeCalls().length;
    const res = await h.cli(['apply', file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/past the guards \(2 removals exceed maxRemovalsPerRun 1\)/);
    expect(h.wire.writeCalls().length).toBe(writes);
  });

  it('removals an earlier sync held back, moved into ops by hand, wait for that run to be approved', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 4 });
    expect((await h.cli(['sync'])).code).toBe(0);
    h.writeConfig({ guards: { maxRemovalsPerRun: 1 } });
    const g = h.directory.groups[0]!;
    for (const m of g.members.slice(0, 2)) h.scim.removeMember(g.id, m.value);
    expect((await h.cli(['sync'])).code).toBe(3);
    h.writeConfig({});
    const file = join(h.dir, 'plan.json');
    expect((await h.cli(['plan', '--out', file])).code).toBe(3);
    save(file, (p) => {
      p.ops.push(...p.blocked.map((b) => b.op));
      p.blocked = [];
    });
    const writes = h.wire.writeCalls().length;
    const res = await h.cli(['apply', file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/held back by guards since run 2: approve it \(convsync approve 2\)/);
    expect(h.wire.writeCalls().length).toBe(writes);
  });
});
