import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { afterPush, GROUP, PATCH, scim, startDaemon, USER, type Daemon } from '../helpers/daemon.js';
import { startHarness, until, wireState, type Harness } from '../helpers/harness.js';

const MAPPING = { match: { displayName: '^team-(.+)$' }, name: 'Team {1}', remove: 'managed' };

describe('convsync_held_removals after a scoped run that holds nothing (the real daemon)', () => {
  let h: Harness;
  let d: Daemon | undefined;
  afterEach(async () => {
    await d?.stop();
    d = undefined;
    await h?.close();
  });

  it('still counts the removals that wait for approval, as convsync_quarantined still says 1', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 1, users: 10 });
    d = await startDaemon(h, { mappings: [MAPPING], guards: { maxRemovalsPerRun: 2, maxRemovalRatio: 1, protect: [], window: '1h' } });
    const ids: string[] = [];
    for (const u of h.directory.users.slice(0, 10))
      ids.push((await scim(d, 'POST', '/Users', { schemas: [USER], userName: u.email, externalId: u.externalId, active: true })).json.id as string);
    const gid = (await scim(d, 'POST', '/Groups', { schemas: [GROUP], displayName: 'team-x', members: ids.map((value) => ({ value })) })).json.id as string;
    await until(() => (wireState(h.wire, h.botId).get('Team x')?.length ?? 0) === 10, 'ten members');
    const held = await afterPush(h, () =>
      scim(d!, 'PATCH', `/Groups/${gid}`, { schemas: [PATCH], Operations: ids.slice(0, 3).map((id) => ({ op: 'remove', path: `members[value eq "${id}"]` })) }),
    );
    expect(held.result).toBe('quarantined');
    const gauge = async (name: string) => new RegExp(`^${name} (\\d+)`, 'm').exec(await (await request(`${d!.url}/metrics`)).body.text())?.[1];
    expect(await gauge('convsync_held_removals')).toBe('3');
    // a push to another group: a scoped run that plans only team-y and holds nothing
    const calm = await afterPush(h, () => scim(d!, 'POST', '/Groups', { schemas: [GROUP], displayName: 'team-y', members: [{ value: ids[9]! }] }));
    expect(calm.result).toBe('ok');
    expect(await gauge('convsync_quarantined')).toBe('1');
    // the three removals still wait for `convsync approve`: the gauge must not read 0
    expect(await gauge('convsync_held_removals')).toBe('3');
  }, 60_000);
});
