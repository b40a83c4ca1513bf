import { describe, expect, it } from 'vitest';
import { MINUTE, scimOnClockPerTest } from '../helpers/scim-on-clock.js';

const open = scimOnClockPerTest();

describe('SCIM pull, incremental: the listing of changed users', () => {
  it('does not store a read that skipped a changed user because its pages shifted (one listed user deleted, one made, between pages)', async () => {
    const { clock, sandbox, store, fetch } = await open();
    await fetch();
    clock.t += MINUTE;
    // five users changed: the listing of changed users takes two pages of 4
    for (const id of ['u-000001', 'u-000002', 'u-000003', 'u-000004']) sandbox.updateUser(id, { displayName: `changed ${id}` });
    sandbox.updateUser('u-000005', { active: false });
    // made well before this read starts (runs further apart than the overlap)
    clock.t += 10 * MINUTE;
    const s = sandbox;
    const off = s.onPage((p) => {
      if (p.resource !== 'Users' || p.startIndex !== 1 || p.ids.length !== 4) return;
      off();
      s.deleteUser('u-000001', { touchGroups: false });
      s.addUser({
        id: 'u-000099',
        userName: 'zoe',
        displayName: 'Zoe',
        email: 'zoe@example.com',
        externalId: '99999999-9999-4999-8999-999999999999',
        active: true,
      });
    });
    try {
      await fetch();
    } catch (e) {
      expect(String(e)).toMatch(/incremental read failed/);
    }
    // past the overlap, nothing else changing: the deactivated user must not stay active in the stored read
    clock.t += 10 * MINUTE;
    await fetch();
    const head = JSON.parse(store.reads.users('corp').get('u-000005')!.split('\n')[0]!) as { active: boolean };
    expect(head.active).toBe(false);
  });
});
