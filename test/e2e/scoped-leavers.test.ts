import { afterEach, expect, it } from 'vitest';
import { startHarness, until, wireState, type Harness } from '../helpers/harness.js';
import { afterPush, GROUP, PATCH, scim, startDaemon, USER, type Daemon } from '../helpers/daemon.js';

let h: Harness;
let d: Daemon | undefined;
afterEach(async () => {
  await d?.stop();
  d = undefined;
  await h?.close();
});

it('the daemon adds again someone who left a conversation by hand once pushes took them out of the group and back in', async () => {
  h = await startHarness({ groups: 1, membersPerGroup: 1, users: 3 });
  // every full run (the start-up run) refreshes drift
  const extra = { drift: { refreshEveryRuns: 1 } };
  d = await startDaemon(h, extra);
  const users = h.directory.users.slice(0, 2);
  const ids: string[] = [];
  for (const u of users) {
    const res = await scim(d, 'POST', '/Users', { schemas: [USER], externalId: u.externalId, userName: u.email, active: true });
    expect(res.status).toBe(201);
    ids.push(res.json.id as string);
  }
  const group = await scim(d, 'POST', '/Groups', { schemas: [GROUP], displayName: 'team-eng', members: ids.map((value) => ({ value })) });
  expect(group.status).toBe(201);
  const gid = group.json.id as string;
  const members = () => wireState(h.wire, h.botId).get('Team eng');
  await until(() => members()?.length === 2, 'both members added');

  // the first leaves the conversation by hand; the next full run (a restart) records them as a leaver
  const leaver = users[0]!.externalId;
  const conv = [...h.wire.conversations.values()].find((c) => c.name === 'Team eng')!;
  conv.members.delete(leaver);
  await d.stop();
  d = await startDaemon(h, extra);
  expect(members()).toEqual([users[1]!.externalId]);

  // the IdP takes them out of the group, then puts them back
  const remove = { schemas: [PATCH], Operations: [{ op: 'Remove', path: 'members', value: [{ value: ids[0] }] }] };
  expect((await afterPush(h, () => scim(d!, 'PATCH', `/Groups/${gid}`, remove))).result).toBeDefined();
  const add = { schemas: [PATCH], Operations: [{ op: 'Add', path: 'members', value: [{ value: ids[0] }] }] };
  await afterPush(h, () => scim(d!, 'PATCH', `/Groups/${gid}`, add));
  // their group membership changed: they are added again (README: "once they leave the group and join it again, they are added")
  expect(members()).toContain(leaver);
});
