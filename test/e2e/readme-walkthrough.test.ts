import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, wireState, type Harness } from '../helpers/harness.js';

/** A new operator's path through the README, with the built CLI as a child process. */
describe('a new operator following the README (the real CLI)', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  const conv = (name: string) => [...h!.wire.conversations.values()].find((c) => c.name === name)!;

  it('`sync --dry-run --refresh` never answers "no changes" while `sync --refresh` would rename (the flag is not ignored)', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 3 });
    expect((await h.cli(['sync'])).code).toBe(0);
    conv('Team ops').name = 'Ops chat'; // renamed by hand
    const writes = h.wire.writeCalls().length;
    const dry = await h.cli(['sync', '--dry-run', '--refresh']);
    expect(h.wire.writeCalls().length).toBe(writes);
    // either it shows what the refresh finds, or it refuses the pair: never a silent "nothing to do"
    const showsRename = dry.code === 0 && /rename +"Team ops"/.test(dry.stdout);
    const refused = dry.code === 1 && /--refresh/.test(dry.stderr);
    expect(showsRename || refused, `exit ${dry.code}\n${dry.stdout}\n${dry.stderr}`).toBe(true);
    const real = await h.cli(['sync', '--refresh']);
    expect(real.stdout).toMatch(/rename +"Team ops"/);
  });

  it('`validate` refuses a guards.protect entry that is not a user id of the backend, instead of protecting nobody', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 3 });
    const eng = h.directory.groups[0]!;
    const boss = h.directory.users.find((u) => u.id === eng.members[0]!.value)!;
    expect((await h.cli(['sync'])).code).toBe(0);
    // the person's handle where their Wire user id was meant
    h.writeConfig({ guards: { maxRemovalsPerRun: 1000, maxRemovalRatio: 1, protect: [boss.userName] } });
    const validate = await h.cli(['validate']);
    // the entry cannot match anyone on Wire (ids are uuid or uuid@domain): the operator must hear it
    expect(validate.code, validate.stdout).toBe(78);
    expect(validate.stderr).toMatch(/guards\.protect\[0\]/);
    // what happens otherwise: the person the operator "protected" is removed
    h.scim.removeMember(eng.id, boss.id);
    await h.cli(['sync']);
    expect(wireState(h.wire, h.botId).get('Team eng')).toContain(h.wireId(boss.id));
  });

  it('`explain` with a mistyped store.path makes no store and does not pass an empty one off as the real one', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 2 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const res = await h.cli(['explain', '--group', 'team-eng', '--set', 'store.path=./mistyped/convsync.db']);
    expect(existsSync(join(h.dir, 'mistyped')), 'explain (read-only) made a store').toBe(false);
    expect(res.stderr).toMatch(/no store at .*mistyped\/convsync\.db/);
  });

  it('a plan that could not read its source, or whose removals are all held back, does not say the conversations match the directory', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 4 });
    h.writeConfig({ guards: { maxRemovalsPerRun: 1, protect: [] } });
    expect((await h.cli(['sync'])).code).toBe(0);
    const unread = await h.cli(['sync', '--dry-run', '--set', 'sources[0].baseUrl=http://127.0.0.1:1/scim/v2']);
    expect(unread.code).toBe(1);
    expect(unread.stdout).not.toMatch(/the conversations match the directory/);
    const eng = h.directory.groups[0]!;
    h.scim.removeMember(eng.id, eng.members[0]!.value);
    h.scim.removeMember(eng.id, eng.members[1]!.value);
    const held = await h.cli(['sync', '--dry-run']);
    expect(held.code).toBe(3);
    expect(held.stdout).not.toMatch(/the conversations match the directory/);
  });
});
