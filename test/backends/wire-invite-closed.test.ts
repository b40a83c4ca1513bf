import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, wireState, desiredState, type Harness } from '../helpers/harness.js';

/**
 * Wire answers 403 access-denied both for a user it will not let in and for a conversation whose
 * access settings lack `invite` (changed by hand): the second refuses nobody in particular.
 */
describe('wire: a conversation closed to invites', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('fails its adds in one call, refuses no user, and adds them all once it is open again', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 2, users: 10 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const g = h.directory.groups[0]!;
    const joining = h.directory.users.filter((u) => !g.members.some((m) => m.value === u.id)).slice(0, 6);
    for (const u of joining) h.scim.addMember(g.id, u.id);
    const [conv] = [...h.wire.conversations.values()];
    conv!.access = ['private'];
    const adds = () => h.wire.calls.filter((c) => c.method === 'POST' && /\/members$/.test(c.path)).length;
    const before = adds();
    const closed = await h.cli(['sync', '--output', 'json']);
    expect(closed.code).toBe(1);
    expect(closed.stderr).toMatch(/access settings lack \\"invite\\", changed by hand/);
    // one call: not split in halves down to each user
    expect(adds() - before).toBe(1);
    const db = new Database(join(h.dir, 'convsync.db'), { readonly: true });
    expect(db.prepare('SELECT count(*) FROM refused_users').pluck().get()).toBe(0);
    db.close();
    expect(JSON.parse(closed.stdout).plan.warnings.join('\n')).not.toMatch(/refused/);

    // given back: everyone comes in at the next run, none held back as refused
    conv!.access = ['invite'];
    const open = await h.cli(['sync']);
    expect(open.code, open.stderr).toBe(0);
    expect(wireState(h.wire, h.botId)).toEqual(desiredState(h.scim, h.wireId));
  }, 60_000);

  it('still isolates a user Wire will not let in (deleted since: not activated) under the same label', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 2, users: 6 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const g = h.directory.groups[0]!;
    const joining = h.directory.users.filter((u) => !g.members.some((m) => m.value === u.id)).slice(0, 3);
    for (const u of joining) h.scim.addMember(g.id, u.id);
    const guest = h.wireId(joining[1]!.id);
    h.wire.users.delete(guest);
    const res = await h.cli(['sync', '--output', 'json']);
    const db = new Database(join(h.dir, 'convsync.db'), { readonly: true });
    expect(db.prepare('SELECT user_id, label FROM refused_users').all()).toEqual([{ user_id: guest, label: 'access-denied' }]);
    db.close();
    const [conv] = [...h.wire.conversations.values()];
    for (const u of [joining[0]!, joining[2]!]) expect(conv!.members.has(h.wireId(u.id))).toBe(true);
    expect(res.code).toBe(0);
  }, 60_000);
});
