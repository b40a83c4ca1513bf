import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { afterPush, GROUP, PATCH, scim, startDaemon, USER, type Daemon } from '../helpers/daemon.js';
import { startHarness, until, wireState, type Harness } from '../helpers/harness.js';

const MAPPING = { match: { displayName: '^team-(.+)$' }, name: 'Team {1}', remove: 'managed' };

describe('removals held in one conversation by two push runs (the real daemon, then the CLI)', () => {
  let h: Harness;
  let d: Daemon | undefined;
  afterEach(async () => {
    await d?.stop();
    d = undefined;
    await h?.close();
  });
  const pushed = (send: () => Promise<unknown>) => afterPush(h, send);

  it('approving the first run releases what it held; what the second held waits for its own approval', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 1, users: 10 });
    d = await startDaemon(h, { mappings: [MAPPING], guards: { maxRemovalsPerRun: 2, maxRemovalRatio: 1, protect: [], window: '1h' } });
    const ids: string[] = [];
    for (const u of h.directory.users.slice(0, 10))
      ids.push((await scim(d, 'POST', '/Users', { schemas: [USER], userName: u.email, externalId: u.externalId, active: true })).json.id as string);
    const gid = (await scim(d, 'POST', '/Groups', { schemas: [GROUP], displayName: 'team-x', members: ids.map((value) => ({ value })) })).json.id as string;
    const members = () => wireState(h.wire, h.botId).get('Team x')?.length ?? 0;
    await until(() => members() === 10, 'ten members');
    const remove = (who: string[]) =>
      scim(d!, 'PATCH', `/Groups/${gid}`, { schemas: [PATCH], Operations: who.map((id) => ({ op: 'remove', path: `members[value eq "${id}"]` })) });
    // three, then two more: each run is over the limit of two, both hold
    const first = await pushed(() => remove(ids.slice(0, 3)));
    const second = await pushed(() => remove(ids.slice(3, 5)));
    expect([first.result, second.result]).toEqual(['quarantined', 'quarantined']);
    expect(members()).toBe(10);
    // a later run that holds nothing leaves both waiting, and the gauge says so
    const gauge = async () => /^convsync_quarantined (\d)/m.exec(await (await request(`${d!.url}/metrics`)).body.text())?.[1];
    expect(await gauge()).toBe('1');
    const calm = await pushed(() => scim(d!, 'POST', '/Groups', { schemas: [GROUP], displayName: 'team-y', members: [{ value: ids[9]! }] }));
    expect(calm.result).toBe('ok');
    expect(await gauge()).toBe('1');
    expect(await d.stop()).toBe(0);
    d = undefined;

    const status = (await h.cli(['status'])).stdout;
    expect(status).toContain(`convsync approve ${first.id}`);
    expect(status).toContain(`convsync approve ${second.id}`);
    expect((await h.cli(['approve', String(first.id)])).code).toBe(0);
    expect(members()).toBe(7);
    // two removals are under the limit of a full run, but the second push run held them
    const full = await h.cli(['sync']);
    expect(full.code, full.stdout).toBe(3);
    expect(full.stdout).toContain(`held back by guards since run ${second.id}`);
    expect(members()).toBe(7);
    expect((await h.cli(['approve', String(second.id)])).code).toBe(0);
    expect(members()).toBe(5);
    expect((await h.cli(['sync'])).code).toBe(0);
  }, 60_000);
});
