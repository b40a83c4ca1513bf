import { rawCall, type Method } from '../helpers/raw-http.js';
import { afterEach, describe, expect, it } from 'vitest';
import { WireSandbox, type WireSandboxOptions } from '../../src/sandbox/wire/server.js';

/**
 * The Wire fake as Wire is today (reference/wire-api-2026.md): v6–v15 shapes, conversation
 * protocols and MLS migration, team features, channels run by a team admin, PUT …/members.
 * Driven over raw HTTP.
 */
let wire: WireSandbox;
afterEach(async () => wire?.stop());

const call = (method: Method, path: string, body?: unknown, token?: string | null) => rawCall(wire.url, method, path, body, token);

interface World {
  admin: string;
  adminToken: string;
  member: string;
  memberToken: string;
  people: string[];
}

/** a sandbox with a team admin, a team member (both with passwords) and five more people */
async function start(opts: WireSandboxOptions = {}): Promise<World> {
  wire = await WireSandbox.start(opts);
  const admin = wire.addUser({ email: 'admin@example.com', password: 'password1', role: 'admin' }).id;
  const member = wire.addUser({ email: 'member@example.com', password: 'password2' }).id;
  const people = Array.from({ length: 5 }, (_, i) => wire.addUser({ name: `p${i}` }).id);
  const login = async (email: string, password: string) => (await call('POST', '/v9/login', { email, password }, null)).json.access_token as string;
  return { admin, member, people, adminToken: await login('admin@example.com', 'password1'), memberToken: await login('member@example.com', 'password2') };
}

const q = (id: string) => ({ id, domain: wire.domain });
const team = () => ({ teamid: wire.teamId, managed: false });
const members = (id: string) => [...wire.conversations.get(id)!.members.keys()].sort();
const sorted = (...ids: string[]) => [...ids].sort();
const conv = (v: number, id: string) => `/v${v}/conversations/${wire.domain}/${id}`;

async function group(token: string, invitees: string[], v = 9): Promise<string> {
  const res = await call(
    'POST',
    `/v${v}/conversations`,
    { name: 'g', qualified_users: invitees.map(q), team: team(), conversation_role: 'wire_member' },
    token,
  );
  expect(res.status).toBe(201);
  return res.json.qualified_id.id as string;
}

async function channel(token: string, extra: Record<string, unknown> = {}, v = 15) {
  return call('POST', `/v${v}/conversations`, { name: 'ch', protocol: 'mls', group_conv_type: 'channel', team: team(), ...extra }, token);
}

describe('API versions v6–v15', () => {
  it('serves the v10+ shapes: no unqualified id, 201 with Location, and members.self', async () => {
    const w = await start();
    const v15 = await call('POST', '/v15/conversations', { name: 'n', qualified_users: [q(w.people[0]!)], team: team() }, w.adminToken);
    expect(v15.status).toBe(201);
    expect(v15.json.id).toBeUndefined();
    expect(v15.json.qualified_id).toEqual(q(v15.json.qualified_id.id));
    expect(v15.headers.location).toBe(v15.json.qualified_id.id);
    expect(v15.json.failed_to_add).toEqual([]);
    expect(v15.json.members.self.conversation_role).toBe('wire_admin');
    const id = v15.json.qualified_id.id as string;
    const got = await call('GET', conv(12, id), undefined, w.adminToken);
    expect(got.status).toBe(200);
    expect(got.json.id).toBeUndefined();
    // v6–v9: OwnConversation, with the deprecated id
    for (const v of [6, 9]) expect((await call('GET', conv(v, id), undefined, w.adminToken)).json.id).toBe(id);
    // conversations/list answers OwnConversation at every version
    const listed = await call('POST', '/v15/conversations/list', { qualified_ids: [q(id)] }, w.adminToken);
    expect(listed.json.found[0]).toMatchObject({ id, members: { self: expect.any(Object) } });
  });

  it('serves only announced versions, development ones included; routes start at their version', async () => {
    let w = await start();
    expect((await call('GET', '/v16/self', undefined, w.adminToken)).status).toBe(200); // development [16] is announced
    expect((await call('GET', '/v5/self', undefined, w.adminToken)).json).toMatchObject({ code: 404, label: 'no-endpoint' });
    const id = await group(w.adminToken, [w.people[0]!]);
    const put = await call('PUT', `${conv(12, id)}/members`, { qualified_users: [q(w.admin)] }, w.adminToken);
    expect(put.json).toMatchObject({ code: 404, label: 'no-endpoint' });
    expect(members(id)).toEqual(sorted(w.admin, w.people[0]!));
    const app = await call('POST', `/v11/teams/${wire.teamId}/apps`, { name: 'a', category: 'other', description: '', password: 'password1' }, w.adminToken);
    expect(app.json).toMatchObject({ code: 404, label: 'no-endpoint' });
    await wire.stop();

    w = await start({ supported: [6, 7, 8, 9, 10, 11, 12], development: [] });
    expect((await call('GET', '/v13/self', undefined, w.adminToken)).json).toMatchObject({ code: 404, label: 'unsupported-version' });
    expect((await call('GET', '/v16/self', undefined, w.adminToken)).json).toMatchObject({ code: 404, label: 'unsupported-version' });
    expect((await call('GET', '/v12/self', undefined, w.adminToken)).status).toBe(200);
    expect((await call('GET', '/api-version', undefined, null)).json).toEqual({
      supported: [6, 7, 8, 9, 10, 11, 12],
      development: [],
      federation: false,
      domain: wire.domain,
    });
  });
});

describe('conversation protocols', () => {
  it('manages proteus and mixed over REST, and refuses REST membership of an MLS group with 403 invalid-op', async () => {
    const w = await start();
    const id = await group(w.adminToken, [w.people[0]!, w.member]);
    const proteus = await call('GET', conv(15, id), undefined, w.adminToken);
    expect(proteus.json.protocol).toBe('proteus');
    expect(proteus.json.group_id).toBeUndefined();

    wire.migrateConversation(id, 'mixed');
    const mixed = await call('GET', conv(15, id), undefined, w.adminToken);
    expect(mixed.json).toMatchObject({ protocol: 'mixed', group_id: expect.any(String), epoch: 0 });
    expect((await call('POST', `${conv(15, id)}/members`, { qualified_users: [q(w.people[2]!)] }, w.adminToken)).status).toBe(200);
    expect((await call('DELETE', `${conv(15, id)}/members/${wire.domain}/${w.people[2]}`, undefined, w.adminToken)).status).toBe(200);

    wire.migrateConversation(id, 'mls');
    const mls = await call('GET', conv(9, id), undefined, w.adminToken);
    expect(mls.json).toMatchObject({ protocol: 'mls', group_id: expect.any(String), epoch: expect.any(Number), cipher_suite: 1 });
    for (const v of [9, 15]) {
      const add = await call('POST', `${conv(v, id)}/members`, { qualified_users: [q(w.people[3]!)] }, w.adminToken);
      expect(add.json).toEqual({ code: 403, label: 'invalid-op', message: 'Invalid operation' });
      const remove = await call('DELETE', `${conv(v, id)}/members/${wire.domain}/${w.people[0]}`, undefined, w.adminToken);
      expect(remove.json).toMatchObject({ code: 403, label: 'invalid-op' });
    }
    // even when nobody would change (the protocol is checked first)
    expect((await call('POST', `${conv(9, id)}/members`, { qualified_users: [q(w.people[0]!)] }, w.adminToken)).json.label).toBe('invalid-op');
    const replace = await call('PUT', `${conv(13, id)}/members`, { qualified_users: [q(w.admin)] }, w.adminToken);
    expect(replace.json).toMatchObject({ code: 403, label: 'invalid-op' });
    expect(members(id)).toEqual(sorted(w.admin, w.people[0]!, w.member));
    // rename, leave and delete still work
    expect((await call('PUT', `${conv(9, id)}/name`, { name: 'still' }, w.adminToken)).status).toBe(200);
    const leave = await call('DELETE', `${conv(9, id)}/members/${wire.domain}/${w.member}`, undefined, w.memberToken);
    expect(leave.json).toMatchObject({ type: 'conversation.member-leave', data: { reason: 'left' } });
    expect((await call('DELETE', `/v9/teams/${wire.teamId}/conversations/${id}`, undefined, w.adminToken)).status).toBe(200);
    expect(wire.conversations.has(id)).toBe(false);
    expect(() => wire.migrateConversation(id, 'mls')).toThrow(/no conversation/);
  });

  it('lets a member move a team conversation proteus → mixed → mls over PUT …/protocol, under the migration criteria', async () => {
    const w = await start({ features: { mls: true } });
    const id = await group(w.adminToken, [w.member]);
    const path = `${conv(9, id)}/protocol`;
    expect((await call('PUT', path, { protocol: 'quantum' }, w.adminToken)).json).toMatchObject({ code: 400, label: 'bad-request' });
    expect((await call('PUT', path, { protocol: 'proteus' }, w.memberToken)).status).toBe(204);
    // any member may (leave_conversation), a wire_member too
    const mixed = await call('PUT', path, { protocol: 'mixed' }, w.memberToken);
    expect(mixed.status).toBe(200);
    expect(mixed.json).toMatchObject({ type: 'conversation.protocol-update', data: { protocol: 'mixed' }, via: 'user', qualified_conversation: q(id) });
    expect(wire.conversations.get(id)!.protocol).toBe('mixed');
    // mixed → mls: every member's clients must support MLS (or the deadline must have passed)
    expect((await call('PUT', path, { protocol: 'mls' }, w.adminToken)).json).toMatchObject({ code: 400, label: 'mls-migration-criteria-not-satisfied' });
    for (const u of [w.admin, w.member]) wire.users.get(u)!.supportedProtocols = ['proteus', 'mls'];
    expect((await call('PUT', path, { protocol: 'mls' }, w.adminToken)).status).toBe(200);
    expect((await call('PUT', path, { protocol: 'mixed' }, w.adminToken)).json).toMatchObject({ code: 403, label: 'invalid-protocol-transition' });
    // not a member: 404
    const other = await group(w.memberToken, []);
    expect((await call('PUT', `${conv(9, other)}/protocol`, { protocol: 'mixed' }, w.adminToken)).json).toMatchObject({ code: 404, label: 'no-conversation' });
    wire.features.mlsMigrationFinalised = true;
    expect((await call('PUT', `${conv(9, other)}/protocol`, { protocol: 'mixed' }, w.memberToken)).status).toBe(200);
    expect((await call('PUT', `${conv(9, other)}/protocol`, { protocol: 'mls' }, w.memberToken)).status).toBe(200);
  });
});

describe('team features', () => {
  it('serves channels and mls as LockableFeature objects, to team members only', async () => {
    let w = await start();
    const channels = await call('GET', `/v9/teams/${wire.teamId}/features/channels`, undefined, w.memberToken);
    expect(channels.json).toEqual({
      status: 'disabled',
      lockStatus: 'locked',
      config: { allowed_to_create_channels: 'team-members', allowed_to_open_channels: 'team-members' },
      ttl: 'unlimited',
    });
    const mls = await call('GET', `/v15/teams/${wire.teamId}/features/mls`, undefined, w.memberToken);
    expect(mls.json).toMatchObject({
      status: 'disabled',
      lockStatus: 'unlocked',
      config: { defaultProtocol: 'proteus', supportedProtocols: ['proteus', 'mls'] },
    });
    expect((await call('GET', `/v9/teams/00000000-0000-4000-8000-000000000000/features/channels`, undefined, w.memberToken)).json).toMatchObject({
      code: 403,
      label: 'no-team-member',
    });
    expect((await call('GET', `/v9/teams/${wire.teamId}/features/nothing`, undefined, w.memberToken)).json).toMatchObject({ label: 'no-endpoint' });
    await wire.stop();

    w = await start({ features: { channels: true, mls: true, channelsCreators: 'admins' } });
    expect((await call('GET', `/v9/teams/${wire.teamId}/features/channels`, undefined, w.memberToken)).json).toMatchObject({
      status: 'enabled',
      config: { allowed_to_create_channels: 'admins' },
    });
    const all = await call('GET', '/v15/feature-configs', undefined, w.memberToken);
    expect(all.json).toMatchObject({ channels: { status: 'enabled' }, mls: { status: 'enabled', config: { defaultProtocol: 'mls' } } });
  });
});

describe('channels', () => {
  it('refuses to create a channel with the real labels, in galley order', async () => {
    let w = await start();
    expect((await channel(w.adminToken)).json).toEqual({
      code: 403,
      label: 'channels-not-enabled',
      message: 'The channels feature is not enabled for this team',
    });
    wire.features.channels = true;
    expect((await channel(w.adminToken, { protocol: 'proteus' })).json).toEqual({
      code: 403,
      label: 'not-mls-conversation',
      message: 'This operation requires an MLS conversation',
    });
    expect((await channel(w.adminToken)).json).toMatchObject({ code: 400, label: 'mls-not-enabled' });
    expect((await channel(w.adminToken, { qualified_users: [q(w.people[0]!)] })).json).toMatchObject({ code: 400, label: 'non-empty-member-list' });
    expect((await channel(w.adminToken, { team: undefined })).json).toMatchObject({ code: 403, label: 'operation-denied' });
    expect((await channel(w.adminToken, { group_conv_type: 'club' })).json).toMatchObject({ code: 400, label: 'bad-request' });
    await wire.stop();

    w = await start({ features: { channels: true, mls: true, channelsCreators: 'admins' } });
    expect((await channel(w.memberToken)).json).toMatchObject({ code: 403, label: 'operation-denied' });
    expect((await channel(w.adminToken)).status).toBe(201);
    wire.features.channelsCreators = 'team-members';
    expect((await channel(w.memberToken)).status).toBe(201);
    // a plain MLS group is possible too, once MLS is on
    const mlsGroup = await call('POST', '/v15/conversations', { protocol: 'mls', team: team() }, w.memberToken);
    expect(mlsGroup.json).toMatchObject({ protocol: 'mls', group_conv_type: 'group_conversation', epoch: 0 });
  });

  it('lets a team admin run a channel it is not in: skip_creator, add (external), remove (204), rename, read; not delete', async () => {
    const w = await start({ features: { channels: true, mls: true } });
    const created = await channel(w.adminToken, { skip_creator: true, add_permission: 'admins' });
    expect(created.status).toBe(201);
    expect(created.json.members.self).toBeUndefined();
    expect(created.json.members.others).toEqual([]);
    expect(created.json).toMatchObject({ protocol: 'mls', group_conv_type: 'channel', add_permission: 'admins', epoch: 0 });
    const id = created.json.qualified_id.id as string;
    expect(members(id)).toEqual([]);

    const add = await call(
      'POST',
      `${conv(15, id)}/members`,
      { qualified_users: [q(w.people[0]!), q(w.people[1]!), q(w.member)], conversation_role: 'wire_member' },
      w.adminToken,
    );
    expect(add.status).toBe(200);
    expect(add.json).toMatchObject({ type: 'conversation.member-join', via: 'user', data: { add_type: 'external_add' } });
    expect(members(id)).toEqual(sorted(w.people[0]!, w.people[1]!, w.member));
    // the admin reads it from v10 on (without members.self); v9 has no such view
    const read = await call('GET', conv(15, id), undefined, w.adminToken);
    expect(read.status).toBe(200);
    expect(read.json.members.self).toBeUndefined();
    expect(read.json.members.others).toHaveLength(3);
    expect((await call('GET', conv(9, id), undefined, w.adminToken)).json).toMatchObject({ code: 403, label: 'access-denied' });
    expect((await call('POST', '/v15/conversations/list-ids', {}, w.adminToken)).json.qualified_conversations).toEqual([]);

    // remove: 204 with no body, whether or not someone was removed
    const removed = await call('DELETE', `${conv(15, id)}/members/${wire.domain}/${w.people[0]}`, undefined, w.adminToken);
    expect(removed.status).toBe(204);
    expect(removed.text).toBe('');
    expect(members(id)).toEqual(sorted(w.people[1]!, w.member));
    expect((await call('DELETE', `${conv(15, id)}/members/${wire.domain}/${w.people[0]}`, undefined, w.adminToken)).status).toBe(204);

    expect((await call('PUT', `${conv(15, id)}/name`, { name: 'renamed' }, w.adminToken)).status).toBe(200);
    expect(wire.conversations.get(id)!.name).toBe('renamed');

    // delete needs membership: a non-member admin gets 404 no-conversation (ConversationDeleteTag)
    expect((await call('DELETE', `/v15/teams/${wire.teamId}/conversations/${id}`, undefined, w.adminToken)).json).toMatchObject({
      code: 404,
      label: 'no-conversation',
    });
    expect(wire.conversations.has(id)).toBe(true);

    // a member of the channel (wire_member) may not rename it, and may not remove others
    expect((await call('PUT', `${conv(15, id)}/name`, { name: 'x' }, w.memberToken)).json).toMatchObject({ code: 403, label: 'action-denied' });
    expect((await call('DELETE', `${conv(15, id)}/members/${wire.domain}/${w.people[1]}`, undefined, w.memberToken)).json).toMatchObject({
      code: 404,
      label: 'no-conversation',
    });
    // but may leave (200 with the event)
    const left = await call('DELETE', `${conv(15, id)}/members/${wire.domain}/${w.member}`, undefined, w.memberToken);
    expect(left.json).toMatchObject({ type: 'conversation.member-leave', data: { reason: 'left' } });
  });

  it('keeps non-admins out of channels they are not in, and needs team-admin rights to remove even for the channel admin', async () => {
    const w = await start({ features: { channels: true, mls: true } });
    const byAdmin = (await channel(w.adminToken, { skip_creator: true })).json.qualified_id.id as string;
    // a team member (not admin) who is not in the channel: 404, as if it did not exist
    expect((await call('POST', `${conv(15, byAdmin)}/members`, { qualified_users: [q(w.people[0]!)] }, w.memberToken)).json).toMatchObject({
      code: 404,
      label: 'no-conversation',
    });
    expect((await call('PUT', `${conv(15, byAdmin)}/name`, { name: 'x' }, w.memberToken)).json).toMatchObject({ code: 404, label: 'no-conversation' });
    expect((await call('GET', conv(15, byAdmin), undefined, w.memberToken)).json).toMatchObject({ code: 403, label: 'access-denied' });

    // a member creates a channel: it is its wire_admin and may add, but not remove others
    const mine = (await channel(w.memberToken)).json.qualified_id.id as string;
    expect((await call('POST', `${conv(15, mine)}/members`, { qualified_users: [q(w.people[0]!), q(w.people[1]!)] }, w.memberToken)).status).toBe(200);
    expect((await call('DELETE', `${conv(15, mine)}/members/${wire.domain}/${w.people[0]}`, undefined, w.memberToken)).json).toMatchObject({
      code: 404,
      label: 'no-conversation',
    });
    // the team admin removes for it, without being in the channel; the creator may delete it
    expect((await call('DELETE', `${conv(15, mine)}/members/${wire.domain}/${w.people[0]}`, undefined, w.adminToken)).status).toBe(204);
    expect(members(mine)).toEqual(sorted(w.member, w.people[1]!));
    // channels are MLS: no size rule
    expect((await call('DELETE', `/v15/teams/${wire.teamId}/conversations/${mine}`, undefined, w.memberToken)).status).toBe(200);
  });

  it('stores a skip_creator conversation on v6–v9 but answers 500 bad-state, as galley does', async () => {
    const w = await start({ features: { channels: true, mls: true } });
    const res = await channel(w.adminToken, { skip_creator: true }, 9);
    expect(res.json).toEqual({ code: 500, label: 'bad-state', message: 'Bad internal member state.' });
    expect([...wire.conversations.values()].filter((c) => c.groupConvType === 'channel')).toHaveLength(1);
  });
});

describe('PUT /conversations/{d}/{c}/members (v13+)', () => {
  it('adds who is missing, removes who is not listed, answers 200 with no body', async () => {
    const w = await start();
    const id = await group(w.adminToken, [w.people[0]!, w.people[1]!]);
    const path = `${conv(13, id)}/members`;
    expect((await call('PUT', path, { qualified_users: [] }, w.adminToken)).json).toMatchObject({ code: 400, label: 'bad-request' });
    expect((await call('PUT', path, {}, w.adminToken)).json).toMatchObject({ code: 400, label: 'bad-request' });
    const res = await call('PUT', path, { qualified_users: [q(w.admin), q(w.people[1]!), q(w.people[2]!)], conversation_role: 'wire_member' }, w.adminToken);
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(members(id)).toEqual(sorted(w.admin, w.people[1]!, w.people[2]!));
    expect(wire.conversations.get(id)!.members.get(w.people[2]!)).toBe('wire_member');
    // unchanged: 200 too
    expect((await call('PUT', path, { qualified_users: [q(w.admin), q(w.people[1]!), q(w.people[2]!)] }, w.adminToken)).status).toBe(200);
    // the caller is among the current members: not listed, it is removed too
    expect((await call('PUT', `${conv(15, id)}/members`, { qualified_users: [q(w.people[3]!)] }, w.adminToken)).status).toBe(200);
    expect(members(id)).toEqual([w.people[3]!]);
    expect((await call('GET', conv(15, id), undefined, w.adminToken)).json).toMatchObject({ code: 403, label: 'access-denied' });
  });

  it('checks the caller like add and remove do: a wire_member may not, a non-member gets 404', async () => {
    const w = await start();
    const id = await group(w.adminToken, [w.member]);
    expect((await call('PUT', `${conv(13, id)}/members`, { qualified_users: [q(w.member), q(w.people[0]!)] }, w.memberToken)).json).toMatchObject({
      code: 403,
      label: 'action-denied',
    });
    const other = await group(w.memberToken, [w.people[0]!]);
    expect((await call('PUT', `${conv(13, other)}/members`, { qualified_users: [q(w.people[1]!)] }, w.adminToken)).json).toMatchObject({
      code: 404,
      label: 'no-conversation',
    });
    expect(members(other)).toEqual(sorted(w.member, w.people[0]!));
  });

  it('lets a team admin replace the members of a channel it is not in', async () => {
    const w = await start({ features: { channels: true, mls: true } });
    const id = (await channel(w.adminToken, { skip_creator: true })).json.qualified_id.id as string;
    const path = `${conv(15, id)}/members`;
    expect((await call('PUT', path, { qualified_users: [q(w.people[0]!), q(w.people[1]!)], conversation_role: 'wire_member' }, w.adminToken)).status).toBe(200);
    expect(members(id)).toEqual(sorted(w.people[0]!, w.people[1]!));
    expect((await call('PUT', path, { qualified_users: [q(w.people[1]!), q(w.people[2]!)] }, w.adminToken)).status).toBe(200);
    expect(members(id)).toEqual(sorted(w.people[1]!, w.people[2]!));
    // a team member who is not in it: 404 (for the adds), nothing changes
    expect((await call('PUT', path, { qualified_users: [q(w.people[3]!)] }, w.memberToken)).json).toMatchObject({ code: 404, label: 'no-conversation' });
    expect(members(id)).toEqual(sorted(w.people[1]!, w.people[2]!));
  });
});
