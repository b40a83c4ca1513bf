/**
 * Conversations in the Wire fake: create, read, list, add, remove, replace, rename, delete and
 * protocol migration, with galley's checks in galley's order (`updateLocalConversation`:
 * conversation, protocol, conversation role, actor, action) and the channel rules for team admins.
 */

import { randomUuid } from '../random.js';
import {
  accessDenied,
  actionDenied,
  badRequest,
  dedupe,
  fail,
  invalidOp,
  isObject,
  isQualified,
  noConversation,
  noTeamMember,
  operationDenied,
  parseInvite,
  type Qualified,
  Reply,
  ROLES,
  UUID,
} from './http.js';
import {
  TEAM_PERMS,
  type ConversationProtocol,
  type ConversationRole,
  type FakeConversation,
  type FakeUser,
  type GroupConvType,
  type WireWorld,
} from './state.js';

const GROUP_CONV_TYPES: readonly GroupConvType[] = ['group_conversation', 'channel', 'meeting'];
/** MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 */
const CIPHER_SUITE = 1;
const MLS_NOT_ENABLED = 'MLS is not configured on this backend. See docs.wire.com for instructions on how to enable it';

/** who the caller is to a conversation ([WS] ActorContext, hasManageChannelsPermission) */
interface Actor {
  /** the caller's conversation role, if a member */
  role: ConversationRole | undefined;
  /** the caller is a member of the conversation's team */
  teamMember: boolean;
  /** a team admin or owner acting on a channel of its team (hidden permission ManageChannels) */
  manageChannels: boolean;
}

export class Conversations {
  constructor(private readonly w: WireWorld) {}

  // ---- shapes ---------------------------------------------------------------------------------

  /**
   * The conversation as `viewer` sees it. `own` is `OwnConversation` (v6–v9 reads and creates, and
   * `conversations/list` at every version): unqualified `id` and `members.self` always present.
   * Otherwise `Conversation` (v10+): no `id`, `members.self` only if the viewer is a member.
   */
  view(c: FakeConversation, viewer: FakeUser, own: boolean) {
    const d = this.w.domain;
    const member = (id: string, role: ConversationRole) => ({ qualified_id: { id, domain: d }, id, service: null, status: 0, conversation_role: role });
    const selfRole = c.members.get(viewer.id);
    const self =
      selfRole === undefined
        ? undefined
        : {
            ...member(viewer.id, selfRole),
            status_ref: '0.0',
            status_time: '1970-01-01T00:00:00.000Z',
            otr_muted_status: null,
            otr_muted_ref: null,
            otr_archived: false,
            otr_archived_ref: null,
            hidden: false,
            hidden_ref: null,
          };
    return {
      qualified_id: { id: c.id, domain: d },
      ...(own ? { id: c.id } : {}),
      type: c.type,
      creator: c.creator,
      access: c.access,
      access_role: c.accessRole,
      name: c.name,
      last_event: '0.0',
      last_event_time: '1970-01-01T00:00:00.000Z',
      team: c.team,
      message_timer: null,
      receipt_mode: null,
      group_conv_type: c.groupConvType ?? 'group_conversation',
      add_permission: c.addPermission ?? null,
      cells_state: 'disabled',
      parent: null,
      members: {
        ...(self ? { self } : {}),
        others: [...c.members].filter(([id]) => id !== viewer.id).map(([id, role]) => member(id, role)),
      },
      protocol: c.protocol,
      ...this.mlsData(c),
    };
  }

  /** `group_id` and `epoch` for mls and mixed; the timestamp and cipher suite once the epoch is past 0 ([WS-proto], v6+) */
  private mlsData(c: FakeConversation) {
    if (c.protocol === 'proteus') return {};
    const epoch = c.epoch ?? 0;
    return {
      group_id: Buffer.from(`${c.id}@${this.w.domain}`).toString('base64'),
      epoch,
      ...(epoch > 0 ? { epoch_timestamp: c.epochTimestamp ?? null, cipher_suite: CIPHER_SUITE } : {}),
    };
  }

  private event(type: string, c: FakeConversation, from: FakeUser, data: unknown) {
    return {
      type,
      conversation: c.id,
      qualified_conversation: { id: c.id, domain: this.w.domain },
      from: from.id,
      qualified_from: { id: from.id, domain: this.w.domain },
      time: new Date().toISOString(),
      team: c.team,
      via: 'user',
      data,
    };
  }

  private actor(caller: FakeUser, c: FakeConversation): Actor {
    const teamMember = c.team !== null && caller.team === c.team;
    return {
      role: c.members.get(caller.id),
      teamMember,
      manageChannels: teamMember && c.groupConvType === 'channel' && TEAM_PERMS[caller.role].has('ManageChannels'),
    };
  }

  private find(domain: string, id: string): FakeConversation | undefined {
    return domain === this.w.domain ? this.w.conversations.get(id) : undefined;
  }

  /** the checks every new member goes through ([WS-cutil] ensureAccessRole, connections) */
  private checkInvitee(q: Qualified, team: string | null): Reply | undefined {
    if (q.domain !== this.w.domain) return fail(422, 'federation-not-enabled', 'No federator configured');
    const u = this.w.users.get(q.id);
    if (!u) return accessDenied();
    if (team !== null && u.team !== team) return fail(403, 'not-connected', 'Users are not connected');
    return undefined;
  }

  // ---- create and read ------------------------------------------------------------------------

  /** `POST /conversations` ([WS-create] createGroupConversationGeneric, checkCreateConvPermissions) */
  create(caller: FakeUser, b: unknown, version: number): Reply {
    const w = this.w;
    if (!isObject(b)) return badRequest('Error in $: expected Object');
    if (b.qualified_users !== undefined && !(Array.isArray(b.qualified_users) && b.qualified_users.every(isQualified))) {
      return badRequest('Error in $.qualified_users: expected an array of qualified ids');
    }
    if (b.users !== undefined && !(Array.isArray(b.users) && b.users.every((u) => typeof u === 'string' && UUID.test(u)))) {
      return badRequest('Error in $.users: expected an array of UUIDs');
    }
    if (b.name !== undefined && b.name !== null && (typeof b.name !== 'string' || [...b.name].length < 1 || [...b.name].length > 256)) {
      return badRequest('Error in $.name: expected a string of 1..256 characters');
    }
    if (b.team !== undefined && b.team !== null) {
      // a UUID is parsed as one (Data.UUID): any case
      if (!isObject(b.team) || typeof b.team.teamid !== 'string' || !UUID.test(b.team.teamid.toLowerCase()))
        return badRequest('Error in $.team.teamid: expected a UUID');
      if (!('managed' in b.team)) return badRequest('Error in $.team: key "managed" not found');
    }
    const role = b.conversation_role ?? 'wire_admin';
    if (!ROLES.includes(role as ConversationRole)) return badRequest('Error in $.conversation_role: unknown role');
    const protocol = b.protocol ?? 'proteus';
    // BaseProtocol: a conversation is never created mixed
    if (protocol !== 'proteus' && protocol !== 'mls') return badRequest('Error in $.protocol: expected proteus or mls');
    const kind = b.group_conv_type ?? 'group_conversation';
    if (!GROUP_CONV_TYPES.includes(kind as GroupConvType)) return badRequest('Error in $.group_conv_type: expected group_conversation, channel or meeting');
    const addPermission = b.add_permission ?? null;
    if (addPermission !== null && addPermission !== 'admins' && addPermission !== 'everyone')
      return badRequest('Error in $.add_permission: expected admins or everyone');
    if (b.skip_creator !== undefined && typeof b.skip_creator !== 'boolean') return badRequest('Error in $.skip_creator: expected Boolean');
    if (b.access_role !== undefined && Array.isArray(b.access_role) && b.access_role.length === 0) return accessDenied();

    const invitees = dedupe([
      ...((b.qualified_users as Qualified[] | undefined) ?? []),
      ...((b.users as string[] | undefined) ?? []).map((id) => ({ id, domain: w.domain })),
    ]).filter((q) => !(q.id === caller.id && q.domain === w.domain));
    // newRegularConversation: the size rule (proteus), or no invitees at all (mls)
    if (protocol === 'mls') {
      if (invitees.length > 0) return fail(400, 'non-empty-member-list', 'Attempting to add group members outside MLS');
    } else if (invitees.length > w.maxConvSize - 1) {
      return fail(400, 'client-error', `Invalid range: ${invitees.length} users, at most ${w.maxConvSize - 1}`);
    }
    // checkCreateConvPermissions
    const team = isObject(b.team) ? (b.team.teamid as string).toLowerCase() : null;
    const perms = TEAM_PERMS[caller.role];
    if (team === null) {
      if (kind === 'channel') return operationDenied();
    } else if (kind === 'channel') {
      // ensureCreateChannelPermissions
      if (caller.team !== team) return noTeamMember();
      if (!w.features.channels) return fail(403, 'channels-not-enabled', 'The channels feature is not enabled for this team');
      if (protocol !== 'mls') return fail(403, 'not-mls-conversation', 'This operation requires an MLS conversation');
      const creators = w.features.channelsCreators;
      if (creators === 'team-members' && !perms.has('AddRemoveConvMember')) return operationDenied();
      if (creators === 'admins' && caller.role !== 'admin' && caller.role !== 'owner') return operationDenied();
    } else {
      if (caller.team !== team) return noTeamMember();
      if (!perms.has('CreateConversation') || ((invitees.length > 1 || protocol === 'mls') && !perms.has('AddRemoveConvMember'))) return operationDenied();
    }
    for (const q of invitees) {
      const problem = this.checkInvitee(q, team);
      if (problem) return problem;
    }
    if (protocol === 'mls' && !w.features.mls) return fail(400, 'mls-not-enabled', MLS_NOT_ENABLED);

    const c: FakeConversation = {
      id: randomUuid(w.random),
      name: typeof b.name === 'string' ? b.name : null,
      creator: caller.id,
      team,
      type: 0,
      access: Array.isArray(b.access) && b.access.length > 0 ? (b.access as string[]) : ['invite'],
      accessRole: ['non_team_member', 'service', 'team_member'],
      protocol,
      groupConvType: kind as GroupConvType,
      addPermission: kind === 'channel' ? ((addPermission as 'admins' | 'everyone' | null) ?? 'everyone') : null,
      epoch: 0,
      epochTimestamp: null,
      // skip_creator leaves the creator out, whoever it is ([WS-create] newRegularConversation);
      // only a team admin can reach such a conversation afterwards, and only a channel
      members: new Map(b.skip_creator === true ? [] : [[caller.id, 'wire_admin']]),
    };
    for (const q of invitees) c.members.set(q.id, role as ConversationRole);
    w.conversations.set(c.id, c);
    if (version < 10 && !c.members.has(caller.id)) {
      // v6–v9 answer with OwnConversation, which needs the creator as a member: galley stores the
      // conversation and then fails with BadMemberState (conversationViewV9)
      return fail(500, 'bad-state', 'Bad internal member state.');
    }
    return new Reply(201, { ...this.view(c, caller, version < 10), failed_to_add: [] }, { location: c.id });
  }

  /** `GET /conversations/{d}/{c}`: members only; from v10, also a team admin for a channel of its team */
  get(caller: FakeUser, domain: string, id: string, version: number): Reply {
    const c = this.find(domain, id);
    if (!c) return noConversation();
    if (!c.members.has(caller.id) && !(version >= 10 && this.actor(caller, c).manageChannels)) return accessDenied();
    return new Reply(200, this.view(c, caller, version < 10));
  }

  listIds(caller: FakeUser, b: unknown): Reply {
    if (!isObject(b)) return badRequest('Error in $: expected Object');
    const size = b.size ?? 1000;
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 1000) return badRequest('Error in $.size: expected 1..1000');
    if (b.paging_state !== undefined && b.paging_state !== null && typeof b.paging_state !== 'string') {
      return badRequest('Error in $.paging_state: expected a string');
    }
    const offset = typeof b.paging_state === 'string' ? Number(Buffer.from(b.paging_state, 'base64url').toString()) || 0 : 0;
    const mine = [...this.w.conversations.values()].filter((c) => c.members.has(caller.id)).sort((a, b2) => (a.id < b2.id ? -1 : 1));
    const page = mine.slice(offset, offset + size);
    return new Reply(200, {
      qualified_conversations: page.map((c) => ({ id: c.id, domain: this.w.domain })),
      has_more: offset + size < mine.length,
      paging_state: Buffer.from(String(offset + page.length)).toString('base64url'),
    });
  }

  /** `POST /conversations/list`: `found` is `[OwnConversation]` at every version (members only) */
  list(caller: FakeUser, b: unknown): Reply {
    if (!isObject(b) || !Array.isArray(b.qualified_ids) || !b.qualified_ids.every(isQualified)) {
      return badRequest('Error in $.qualified_ids: expected an array of qualified ids');
    }
    if (b.qualified_ids.length < 1 || b.qualified_ids.length > 1000) return badRequest('Error in $.qualified_ids: expected 1..1000 ids');
    const found: unknown[] = [];
    const notFound: unknown[] = [];
    for (const q of b.qualified_ids as Qualified[]) {
      const c = this.find(q.domain, q.id);
      if (c && c.members.has(caller.id)) found.push(this.view(c, caller, true));
      else notFound.push(q);
    }
    return new Reply(200, { found, not_found: notFound, failed: [] });
  }

  // ---- members --------------------------------------------------------------------------------

  /** `POST /conversations/{d}/{c}/members` ([WS] addMembers → updateLocalConversation → performConversationJoin) */
  addMembers(caller: FakeUser, domain: string, id: string, b: unknown): Reply {
    const invite = parseInvite(b);
    if (invite instanceof Reply) return invite;
    const c = this.find(domain, id);
    if (!c) return noConversation();
    return this.join(caller, c, invite.users, invite.role);
  }

  private join(caller: FakeUser, c: FakeConversation, invited: Qualified[], role: ConversationRole): Reply {
    const w = this.w;
    // mkJoinType: a REST add to a team channel is an external add (the members' clients do the MLS part)
    const external = c.groupConvType === 'channel' && c.team !== null;
    if (c.protocol === 'mls' && !external) return invalidOp(); // protocolValidAction
    const a = this.actor(caller, c);
    const skipRoleCheck = (c.addPermission === 'everyone' && a.teamMember) || a.manageChannels;
    if (a.role !== undefined && !skipRoleCheck && a.role !== 'wire_admin') return actionDenied('add_conversation_member');
    if (a.role === undefined) {
      if (!(a.teamMember && external && a.manageChannels)) return noConversation();
    } else if (a.role === 'wire_member' && role === 'wire_admin') {
      return actionDenied('add_conversation_member'); // ensureConvRoleNotElevated
    }
    const fresh = invited.filter((q) => !(q.domain === w.domain && c.members.has(q.id)));
    // the size rule counts proteus and mixed members only (ensureMemberLimit)
    if (c.protocol !== 'mls' && c.members.size + fresh.length > w.maxConvSize)
      return fail(403, 'too-many-members', 'Maximum number of members per conversation reached');
    if (!c.access.includes('invite')) return accessDenied();
    for (const q of fresh) {
      const problem = this.checkInvitee(q, c.team);
      if (problem) return problem;
    }
    if (a.teamMember) {
      // checkTeamMemberAddPermission
      const allowed =
        c.groupConvType === 'channel'
          ? a.role === 'wire_admin' || c.addPermission === 'everyone' || a.manageChannels
          : TEAM_PERMS[caller.role].has('AddRemoveConvMember');
      if (!allowed) return invalidOp();
    }
    if (fresh.length === 0) return new Reply(204);
    for (const q of fresh) c.members.set(q.id, role);
    return new Reply(
      200,
      this.event('conversation.member-join', c, caller, {
        users: fresh.map((q) => ({ qualified_id: q, id: q.id, conversation_role: role })),
        user_ids: fresh.map((q) => q.id),
        add_type: external ? 'external_add' : 'internal_add',
      }),
    );
  }

  /** `DELETE /conversations/{d}/{c}/members/{ud}/{u}` ([WS] removeMemberFromLocalConv) */
  removeMember(caller: FakeUser, domain: string, id: string, userDomain: string, userId: string): Reply {
    const c = this.find(domain, id);
    if (!c) return noConversation();
    const target = { id: userId, domain: userDomain };
    if (userId === caller.id && userDomain === this.w.domain) return this.leave(caller, c);
    // channels: removeMemberFromChannel, as a team admin (ManageChannels) even for a conversation
    // admin; MLS remove proposals, no event: 204 whether or not someone was removed
    if (c.groupConvType === 'channel') return this.removeFromChannel(caller, c, target) ?? new Reply(204);
    const refused = this.mayRemove(caller, c);
    if (refused) return refused;
    if (userDomain !== this.w.domain || !c.members.has(userId)) return new Reply(204);
    c.members.delete(userId);
    return new Reply(200, this.leaveEvent(c, caller, [userId], 'removed'));
  }

  private leaveOrRefuse(caller: FakeUser, c: FakeConversation): Reply | undefined {
    const left = this.leave(caller, c);
    return left.status >= 400 ? left : undefined;
  }

  private leave(caller: FakeUser, c: FakeConversation): Reply {
    if (!c.members.has(caller.id)) return noConversation();
    c.members.delete(caller.id);
    return new Reply(200, this.leaveEvent(c, caller, [caller.id], 'left'));
  }

  /** removing someone from a channel: an error, or undefined when done (or nothing to do) */
  private removeFromChannel(caller: FakeUser, c: FakeConversation, target: Qualified): Reply | undefined {
    if (!this.actor(caller, c).manageChannels) return noConversation();
    if (target.domain === this.w.domain) c.members.delete(target.id);
    return undefined;
  }

  /** the checks before removing others from a regular conversation (ConversationRemoveMembersTag) */
  private mayRemove(caller: FakeUser, c: FakeConversation): Reply | undefined {
    if (c.protocol === 'mls') return invalidOp(); // protocolValidAction
    const a = this.actor(caller, c);
    if (a.role === undefined) return noConversation(); // not a channel, so ManageChannels does not help
    if (a.role !== 'wire_admin') return actionDenied('remove_conversation_member');
    return undefined;
  }

  private leaveEvent(c: FakeConversation, caller: FakeUser, users: string[], reason: 'left' | 'removed') {
    return this.event('conversation.member-leave', c, caller, {
      reason,
      qualified_user_ids: users.map((id) => ({ id, domain: this.w.domain })),
      user_ids: users,
    });
  }

  /**
   * `PUT /conversations/{d}/{c}/members` (v13+, [WS] replaceMembers): adds who is missing, then
   * removes who is not listed — the caller included, if it is a member and not listed. The adds
   * happen before the removals, so a refused removal leaves the adds in place, as Wire does.
   */
  replaceMembers(caller: FakeUser, domain: string, id: string, b: unknown): Reply {
    const invite = parseInvite(b);
    if (invite instanceof Reply) return invite;
    const c = this.find(domain, id);
    if (!c) return noConversation();
    const listed = new Set(invite.users.filter((q) => q.domain === this.w.domain).map((q) => q.id));
    const toAdd = invite.users.filter((q) => !(q.domain === this.w.domain && c.members.has(q.id)));
    const toRemove = [...c.members.keys()].filter((m) => !listed.has(m));
    if (toAdd.length > 0) {
      const added = this.join(caller, c, toAdd, invite.role);
      if (added.status >= 400) return added;
    }
    if (toRemove.length > 0) {
      if (c.groupConvType === 'channel') {
        // one by one, as DELETE …/members/… does: the caller leaves, others need ManageChannels
        for (const m of toRemove) {
          const refused = m === caller.id ? this.leaveOrRefuse(caller, c) : this.removeFromChannel(caller, c, { id: m, domain: this.w.domain });
          if (refused) return refused;
        }
      } else {
        const refused = this.mayRemove(caller, c);
        if (refused) return refused;
        for (const m of toRemove) c.members.delete(m);
      }
    }
    return new Reply(200);
  }

  // ---- name, deletion, protocol ---------------------------------------------------------------

  rename(caller: FakeUser, domain: string, id: string, b: unknown): Reply {
    if (!isObject(b) || typeof b.name !== 'string') return badRequest('Error in $.name: expected String');
    const c = this.find(domain, id);
    if (!c) return noConversation();
    const a = this.actor(caller, c);
    if (a.role === undefined && !a.manageChannels) return noConversation();
    if (a.role !== undefined && !a.manageChannels && a.role !== 'wire_admin') return actionDenied('modify_conversation_name');
    if (a.teamMember && !TEAM_PERMS[caller.role].has('ModifyConvName')) return invalidOp();
    if ([...b.name].length < 1 || [...b.name].length > 256) return fail(400, 'client-error', 'The name must have between 1 and 256 characters');
    c.name = b.name;
    return new Reply(200, this.event('conversation.rename', c, caller, { name: b.name }));
  }

  /**
   * `DELETE /teams/{tid}/conversations/{cid}` ({tid} is ignored, as the real handler does). The
   * caller must be a member: ConversationDeleteTag's ensureAllowed answers ConvNotFound to a
   * non-member even with ManageChannels; a member team admin needs no wire_admin role on a channel.
   */
  deleteConversation(caller: FakeUser, id: string): Reply {
    const c = this.w.conversations.get(id);
    if (!c) return noConversation();
    const a = this.actor(caller, c);
    if (a.role === undefined) return noConversation();
    if (!a.manageChannels && a.role !== 'wire_admin') return actionDenied('delete_conversation');
    if (!a.teamMember) return noTeamMember();
    this.w.conversations.delete(c.id);
    return new Reply(200);
  }

  /**
   * `PUT /conversations/{d}/{c}/protocol` ([WS] ConversationUpdateProtocolTag): any member of a
   * team conversation may move it proteus → mixed → mls; mixed → mls needs every member's clients to
   * support MLS, or the team's migration deadline to have passed.
   */
  updateProtocol(caller: FakeUser, domain: string, id: string, b: unknown): Reply {
    if (!isObject(b) || (b.protocol !== 'proteus' && b.protocol !== 'mixed' && b.protocol !== 'mls')) {
      return badRequest('Error in $.protocol: expected proteus, mixed or mls');
    }
    const c = this.find(domain, id);
    if (!c || !c.members.has(caller.id)) return noConversation();
    const to = b.protocol;
    if (to === c.protocol) return new Reply(204);
    const refused = this.transition(c, to, true);
    if (refused) return refused;
    return new Reply(200, this.event('conversation.protocol-update', c, caller, { protocol: to }));
  }

  /** a member's client migrating a conversation, without the migration criteria (test hook) */
  migrate(id: string, to: 'mixed' | 'mls'): void {
    const c = this.w.conversations.get(id);
    if (!c) throw new Error(`no conversation ${id}`);
    if (c.protocol === to) return;
    if (c.protocol === 'proteus' && to === 'mls') this.transition(c, 'mixed', false);
    const refused = this.transition(c, to, false);
    if (refused) throw new Error(`cannot migrate ${id} from ${c.protocol} to ${to}: ${JSON.stringify(refused.body)}`);
  }

  private transition(c: FakeConversation, to: ConversationProtocol, checkCriteria: boolean): Reply | undefined {
    const invalid = () => fail(403, 'invalid-protocol-transition', 'Protocol transition is invalid');
    if (c.team === null) return invalid();
    if (c.protocol === 'proteus' && to === 'mixed') {
      c.protocol = 'mixed';
      c.epoch = 0;
      c.epochTimestamp = null;
      return undefined;
    }
    if (c.protocol === 'mixed' && to === 'mls') {
      if (checkCriteria && !this.migrationCriteriaMet(c)) {
        return fail(
          400,
          'mls-migration-criteria-not-satisfied',
          'The migration criteria for mixed to MLS protocol transition are not satisfied for this conversation',
        );
      }
      c.protocol = 'mls';
      // the members' clients have committed by now
      c.epoch = Math.max(c.epoch ?? 0, 1);
      c.epochTimestamp = new Date().toISOString();
      return undefined;
    }
    return invalid();
  }

  /** [WS-migr] checkMigrationCriteria: the mlsMigration feature is on (with MLS), and the deadline passed or everyone supports MLS */
  private migrationCriteriaMet(c: FakeConversation): boolean {
    const f = this.w.features;
    if (!f.mls) return false;
    if (f.mlsMigrationFinalised) return true;
    return [...c.members.keys()].every((m) => (this.w.users.get(m)?.supportedProtocols ?? ['proteus']).includes('mls'));
  }
}
