import type { WireBackendConfig } from '../../config/schema.js';
import { PermanentError, SplitCallsError } from '../../errors.js';
import type { Backend, BackendAdapter, BackendContext, BackendConversation } from '../types.js';
import {
  Conversation,
  ConversationIdsPage,
  ConversationsFound,
  isNoConversation,
  MemberJoinEvent,
  nextPagingState,
  parseAnswer,
  SelfProfile,
  UsersFound,
  wireError,
} from './contract.js';
import { checkChannelMode } from './channels.js';
import { WireIds, type Qualified } from './ids.js';
import { WireSession } from './session.js';
import { memberError, REFUSED_USER_LABELS } from './member-error.js';

/** list-users takes 1..4 handles per call */
const HANDLES_PER_CALL = 4;
/** a Wire handle (wire-server Data.Handle): any other fails the whole list-users call with 400 */
const HANDLE = /^[a-z0-9_.-]{2,256}$/;
/** nginz answers 413 to bodies over 512k: a bigger PUT …/members goes as single calls, adds 2000 (~150k) a call */
const [MAX_BODY_BYTES, SAFE_ADD_BATCH] = [480 * 1024, 2000];
/** conversations/list takes up to 1000 ids; the official client sends 500 */
const LIST_CHUNK = 500;

/**
 * Wire (API v6–v15). User ids are Wire user UUIDs, written `uuid` for the backend's own domain or
 * `uuid@domain` for another one. In group mode the daemon is an ordinary team member that creates
 * proteus team groups (invitees as `wire_member`) and stays their `wire_admin`; a group a member's
 * client migrated to MLS is reported as unmanageable. In channel mode it is a team admin that
 * creates MLS channels (empty: their members are added next) and stays a member of them (Wire lets
 * only a member delete one).
 */
class WireBackend implements Backend {
  readonly id = 'wire';
  readonly capabilities;
  private readonly session: WireSession;
  private readonly ids: WireIds;
  private teamId: string | undefined;

  private readonly channels: boolean;
  private checked: Promise<void> | undefined;
  private readonly passed = new Set<string>();
  /** channel mode: one call for a conversation's changes where it saves calls (PUT …/members, v13+) */
  readonly updateConversation?: (id: string, change: { name?: string; add: string[]; remove: string[] }, signal?: AbortSignal) => Promise<void>;

  constructor(config: WireBackendConfig, ctx: BackendContext) {
    this.channels = config.conversationType === 'channel';
    if (this.channels) this.updateConversation = (id, change, signal) => this.updateChannel(id, change, signal);
    // a login revokes the user's other cookies with its label: a command beside the daemon must not end the daemon's session
    const label = ctx.readOnly ? `${config.label}-read` : config.label;
    this.session = new WireSession({ ...config, label }, ctx.dispatcher, ctx.logger.child({ backend: 'wire' }), ctx.onResponse, ctx.credentials);
    this.ids = new WireIds(() => this.session.domain);
    // Wire takes a UUID in any case and answers in lower case: compared as it answers
    this.teamId = config.teamId?.toLowerCase();
    this.capabilities = {
      // maxConvSize binds proteus groups only; MLS channels have no such cap
      maxMembers: this.channels ? undefined : config.maxConversationSize,
      // a name is 1..256 characters (create: 400 bad-request, rename: 400 client-error)
      maxNameLength: 256,
      // no per-call cap besides the conversation size, so one call per conversation
      addBatch: this.channels ? SAFE_ADD_BATCH : config.maxConversationSize,
      // v6–v9 remove one member per call
      removeBatch: 1,
      removedGroup: 'keep' as const,
      reportsCreator: true,
      createsKind: this.channels ? 'channel' : 'group_conversation',
      refusedUserLabels: REFUSED_USER_LABELS,
    };
  }

  idForm(): string {
    return `wire:${this.session.domain ?? '?'}`;
  }

  /** one form for every id: lower case, the backend's own domain left off, another domain kept */
  parseUserId(value: string): string | undefined {
    return this.ids.parse(value);
  }

  async whoami(signal?: AbortSignal) {
    const res = await this.session.call('GET', '/self', undefined, signal);
    if (res.status !== 200) throw wireError(res, 'GET /self');
    const self = parseAnswer(SelfProfile, res, 'GET /self');
    if (!this.teamId) {
      if (!self.team) {
        throw new PermanentError('the Wire user convsync logs in as is not in a team; set backend.teamId or use a team account', {
          origin: 'wire',
          label: 'no-team-member',
        });
      }
      this.teamId = self.team.toLowerCase();
    }
    return { userId: this.ids.fromQualified(self.qualified_id), ...(self.name ? { displayName: self.name } : {}) };
  }

  /** channel mode's checks, once while they pass (a failure is checked again next time) */
  preflight(signal?: AbortSignal): Promise<void> {
    if (!this.channels) return Promise.resolve();
    this.checked ??= this.team(signal).then((team) => checkChannelMode(this.session, team, this.session.userId!, this.passed, signal));
    return this.checked.catch((e: unknown) => {
      this.checked = undefined;
      throw e;
    });
  }

  async create(input: { name: string; members: string[] }, signal?: AbortSignal): Promise<BackendConversation> {
    const team = await this.team(signal);
    if (this.channels) return this.createChannel(team, input, signal);
    const res = await this.session.call(
      'POST',
      '/conversations',
      {
        qualified_users: input.members.map((m) => this.ids.qualify(m)),
        name: input.name,
        team: { teamid: team, managed: false },
        conversation_role: 'wire_member',
        protocol: 'proteus',
      },
      signal,
    );
    return this.created(res);
  }

  /** an MLS channel is made empty (MLS takes no invitees at creation); the reconciler adds its members next */
  private async createChannel(team: string, input: { name: string }, signal?: AbortSignal): Promise<BackendConversation> {
    await this.preflight(signal);
    const res = await this.session.call(
      'POST',
      '/conversations',
      { qualified_users: [], name: input.name, team: { teamid: team, managed: false }, protocol: 'mls', group_conv_type: 'channel', add_permission: 'admins' },
      signal,
    );
    return this.created(res);
  }

  /** v6–v9 answer 200 for a conversation that existed; v10+ only 201 */
  private created(res: Awaited<ReturnType<WireSession['call']>>): BackendConversation {
    const ok = res.status === 201 || (res.status === 200 && (this.session.version ?? 0) < 10);
    if (!ok) throw wireError(res, 'POST /conversations');
    return this.ids.conversation(parseAnswer(Conversation, res, 'POST /conversations'));
  }

  async get(conversationId: string, signal?: AbortSignal): Promise<BackendConversation | undefined> {
    const conv = await this.read(conversationId, signal);
    return conv && this.ids.conversation(conv);
  }

  /** the conversation as Wire gives it; undefined when Wire says it is gone */
  private async read(conversationId: string, signal?: AbortSignal): Promise<Conversation | undefined> {
    await this.session.ready(signal);
    const q = this.ids.qualify(conversationId);
    const res = await this.session.call('GET', `/conversations/${q.domain}/${q.id}`, undefined, signal);
    // only Wire's own `no-conversation` says it is gone: a 404 of another label (an API version
    // turned off, `no-endpoint`) or from a gateway is no answer about it
    if (res.status === 404 && isNoConversation(res)) return undefined;
    if (res.status !== 200) throw wireError(res, 'GET /conversations/{domain}/{id}');
    return parseAnswer(Conversation, res, 'GET /conversations/{domain}/{id}');
  }

  async list(signal?: AbortSignal): Promise<BackendConversation[]> {
    const team = await this.team(signal);
    const ids: Qualified[] = [];
    let paging: string | null | undefined;
    const seen = new Set<string>();
    do {
      const res = await this.session.call('POST', '/conversations/list-ids', { size: 1000, ...(paging ? { paging_state: paging } : {}) }, signal);
      if (res.status !== 200) throw wireError(res, 'POST /conversations/list-ids');
      const page = parseAnswer(ConversationIdsPage, res, 'POST /conversations/list-ids');
      ids.push(...page.qualified_conversations);
      paging = nextPagingState(page, seen, 'POST /conversations/list-ids');
    } while (paging);
    const out: BackendConversation[] = [];
    for (let i = 0; i < ids.length; i += LIST_CHUNK) {
      const res = await this.session.call('POST', '/conversations/list', { qualified_ids: ids.slice(i, i + LIST_CHUNK) }, signal);
      if (res.status !== 200) throw wireError(res, 'POST /conversations/list');
      const found = parseAnswer(ConversationsFound, res, 'POST /conversations/list').found;
      // only regular group conversations of our team (not self, 1:1 or connect conversations)
      for (const c of found) if (c.type === 0 && c.team?.toLowerCase() === team) out.push(this.ids.conversation(c));
    }
    return out;
  }

  async addMembers(conversationId: string, members: string[], signal?: AbortSignal): Promise<{ added: string[] }> {
    if (members.length === 0) return { added: [] };
    await this.session.ready(signal);
    const q = this.ids.qualify(conversationId);
    const path = `/conversations/${q.domain}/${q.id}/members`;
    const res = await this.session.call('POST', path, { qualified_users: members.map((m) => this.ids.qualify(m)), conversation_role: 'wire_member' }, signal);
    // 204: everyone was already a member
    if (res.status === 204) return { added: [] };
    if (res.status !== 200)
      throw await memberError(wireError(res, 'POST /conversations/{domain}/{id}/members'), () => this.read(conversationId, signal), this.ids);
    const event = parseAnswer(MemberJoinEvent, res, 'POST /conversations/{domain}/{id}/members');
    return { added: event.data.users.map((u) => this.ids.fromQualified(u.qualified_id)) };
  }

  async removeMembers(conversationId: string, members: string[], signal?: AbortSignal): Promise<{ removed: string[] }> {
    await this.session.ready(signal);
    const q = this.ids.qualify(conversationId);
    const removed: string[] = [];
    for (const m of members) {
      const u = this.ids.qualify(m);
      const res = await this.session.call('DELETE', `/conversations/${q.domain}/${q.id}/members/${u.domain}/${u.id}`, undefined, signal);
      // 204: not a member (any more); a channel answers 204 to every removal
      if (res.status === 200) removed.push(m);
      else if (res.status !== 204)
        throw await memberError(
          wireError(res, 'DELETE /conversations/{domain}/{id}/members/{domain}/{user}'),
          () => this.read(conversationId, signal),
          this.ids,
        );
    }
    return { removed };
  }

  /**
   * A channel's changes: with v13+ and more than two calls' worth of them, one read and one
   * `PUT …/members` with the whole list (convsync itself, whoever is there and stays, the new), which
   * keeps people added by hand: only those named go. Otherwise, or when that list passes nginz's
   * body limit, nothing is sent: the reconciler sends the ops one by one (many calls inside this one
   * would pass the rate limit with one token, and start over at any 420).
   */
  private async updateChannel(id: string, change: { name?: string; add: string[]; remove: string[] }, signal?: AbortSignal): Promise<void> {
    const calls = change.remove.length + (change.add.length > 0 ? 1 : 0);
    if ((this.session.version ?? 0) < 13 || calls <= 2) throw new SplitCallsError(`conversation ${id}: its changes go one by one`);
    const conv = await this.get(id, signal);
    if (!conv) throw new PermanentError(`conversation ${id} is gone`, { origin: 'wire', status: 404, label: 'no-conversation' });
    const gone = new Set(change.remove);
    const wanted = [...new Set([...conv.members, ...change.add])].filter((m) => !gone.has(m));
    const put = { qualified_users: [this.session.userId!, ...wanted].map((m) => this.ids.qualify(m)), conversation_role: 'wire_member' };
    if (Buffer.byteLength(JSON.stringify(put)) > MAX_BODY_BYTES) throw new SplitCallsError(`conversation ${id}: its member list is too large for one call`);
    const q = this.ids.qualify(id);
    const res = await this.session.call('PUT', `/conversations/${q.domain}/${q.id}/members`, put, signal);
    if (res.status !== 200 && res.status !== 204)
      throw await memberError(wireError(res, 'PUT /conversations/{domain}/{id}/members'), () => this.read(id, signal), this.ids);
    if (change.name !== undefined) await this.rename(id, change.name, signal);
  }

  async rename(conversationId: string, name: string, signal?: AbortSignal): Promise<void> {
    await this.session.ready(signal);
    const q = this.ids.qualify(conversationId);
    const res = await this.session.call('PUT', `/conversations/${q.domain}/${q.id}/name`, { name }, signal);
    if (res.status !== 200 && res.status !== 204) throw wireError(res, 'PUT /conversations/{domain}/{id}/name');
  }

  async delete(conversationId: string, signal?: AbortSignal): Promise<void> {
    const team = await this.team(signal);
    const q = this.ids.qualify(conversationId);
    const res = await this.session.call('DELETE', `/teams/${team}/conversations/${q.id}`, undefined, signal);
    // already gone: a repeat after a lost answer
    if (res.status === 404 && isNoConversation(res)) return;
    if (res.status !== 200) throw wireError(res, 'DELETE /teams/{team}/conversations/{id}');
  }

  async lookupHandles(handles: string[], signal?: AbortSignal): Promise<Map<string, string | null>> {
    await this.session.ready(signal);
    // Wire shows a handle as `@alice`, which a directory may hold so: the handle itself has no `@`
    const bare = (h: string) => (h.startsWith('@') ? h.slice(1) : h);
    const valid = [...new Set(handles.map(bare))].filter((h) => HANDLE.test(h)); // one Wire cannot parse is no one's, and would fail the others' lookup
    const ids = new Map<string, string>();
    for (let i = 0; i < valid.length; i += HANDLES_PER_CALL) {
      const chunk = valid.slice(i, i + HANDLES_PER_CALL);
      const res = await this.session.call(
        'POST',
        '/list-users',
        { qualified_handles: chunk.map((handle) => ({ handle, domain: this.session.domain })) },
        signal,
      );
      if (res.status !== 200) throw wireError(res, 'POST /list-users');
      for (const u of parseAnswer(UsersFound, res, 'POST /list-users').found) if (u.handle) ids.set(u.handle, this.ids.fromQualified(u.qualified_id));
    }
    return new Map(handles.map((h) => [h, ids.get(bare(h)) ?? null]));
  }

  async close(): Promise<void> {
    await this.session.logout().catch(() => undefined);
  }

  private async team(signal?: AbortSignal): Promise<string> {
    await this.session.ready(signal);
    if (!this.teamId) await this.whoami(signal);
    return this.teamId!;
  }
}

export const wireBackend = {
  type: 'wire',
  create: (config: WireBackendConfig, ctx: BackendContext) => new WireBackend(config, ctx),
} satisfies BackendAdapter<WireBackendConfig>;
