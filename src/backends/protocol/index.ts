import { randomUUID } from 'node:crypto';
import type { Dispatcher } from 'undici';
import * as z from 'zod';
import type { ProtocolBackendConfig } from '../../config/schema.js';
import { AuthError, isAmbiguous, PermanentError, type SyncError } from '../../errors.js';
import { HttpAuthorizer } from '../../http/auth.js';
import { errorForStatus, httpRequest, parseJson, type HttpResponse } from '../../http/request.js';
import type { Backend, BackendAdapter, BackendContext, BackendConversation, NewUser } from '../types.js';
import { Contact, Group, isUnknownId, List, nextPage, UNKNOWN_CONTACT_LABEL, unknownContact } from './contract.js';

/** Protocol ids: 16 alphanumeric characters, case-sensitive */
const ID = /^[A-Za-z0-9]{16}$/;
const PAGE = 100;

/** what convsync writes in the description of its groups; the marker makes a lost create findable */
const DESCRIPTION = 'managed by convsync';
const MARKED = /^managed by convsync \(([0-9a-f-]{36})\)$/;

/**
 * The "Protocol" REST chat API. A synced group is a Protocol group, which carries its conversation;
 * membership is set with one `PUT /groups/:id` holding the complete `contacts` list as `{id}`
 * references, then read back to confirm. Contacts are found by username (or phone), never guessed.
 * A removed group is archived (`archived_at`) unless the mapping says delete.
 */
class ProtocolBackend implements Backend {
  readonly id = 'protocol';
  readonly capabilities;
  private readonly auth: HttpAuthorizer;
  private readonly base: string;
  private readonly dispatcher: Dispatcher | undefined;

  constructor(
    private readonly config: ProtocolBackendConfig,
    private readonly ctx: BackendContext,
  ) {
    this.base = config.baseUrl.replace(/\/+$/, '');
    this.dispatcher = ctx.dispatcher;
    this.auth = new HttpAuthorizer('protocol', config.auth, { timeoutMs: config.timeoutMs, dispatcher: ctx.dispatcher });
    this.capabilities = {
      maxMembers: config.maxMembers,
      // the API token is not a member of the groups it manages
      selfIsMember: false,
      // one PUT carries the whole list
      addBatch: 10_000,
      removeBatch: 10_000,
      removedGroup: 'archive' as const,
      // a lookup pages through every contact, whatever the number of usernames asked for
      lookupBatch: Number.POSITIVE_INFINITY,
      // a contact id Protocol no longer knows: refused alone, not the whole group
      refusedUserLabels: [UNKNOWN_CONTACT_LABEL],
    };
  }

  parseUserId(value: string): string | undefined {
    return ID.test(value) ? value : undefined;
  }

  /** the API token acts for the account, not for a contact: there is no "self" member */
  async whoami() {
    await this.call('GET', '/groups?limit=1');
    return { userId: 'protocol:api-token' };
  }

  /** a marker journaled with the create and written into the group: a lost answer is found exactly */
  prepareCreate(): Record<string, string> {
    return { marker: randomUUID() };
  }

  async create(input: { name: string; members: string[]; prepared?: Record<string, string> }, signal?: AbortSignal): Promise<BackendConversation> {
    const description = input.prepared?.marker ? `${DESCRIPTION} (${input.prepared.marker})` : DESCRIPTION;
    const post = (members: string[]) => this.call('POST', '/groups', { name: input.name, description, contacts: members.map((id) => ({ id })) }, signal);
    // refused for contacts it does not know, nothing was made: made with the others, who are added (and refused) next
    const res = await post(input.members).catch(async (e: unknown) => {
      const unknown = await this.unknownContacts(e, input.members, signal);
      return unknown.length === 0 ? Promise.reject(e) : post(input.members.filter((m) => !unknown.includes(m)));
    });
    const group = this.parse(Group, res, 'POST /groups');
    // the group brings its conversation; if it did not and making one fails, the group exists all the
    // same: its conversation is made at its next change
    if (!group.conversation_id) {
      await this.ensureConversation(group.id, signal).catch((e: unknown) => {
        this.ctx.logger.warn({ backend: 'protocol', group: group.id, err: (e as Error).message }, 'group made, its conversation not yet');
      });
    }
    return this.toConversation(group);
  }

  /** POST /conversations for a group, and after a lost answer a look at the group before any new POST */
  private async ensureConversation(groupId: string, signal?: AbortSignal): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.call('POST', '/conversations', { group_id: groupId }, signal);
        return;
      } catch (e) {
        if (!isAmbiguous(e) || attempt >= 3) throw e;
        if ((await this.group(groupId, signal))?.conversation_id) return;
      }
    }
  }

  async get(id: string, signal?: AbortSignal): Promise<BackendConversation | undefined> {
    const group = await this.group(id, signal);
    // an archived group is no longer a conversation convsync keeps in line
    return group && !group.archived_at ? this.toConversation(group) : undefined;
  }

  async list(signal?: AbortSignal): Promise<BackendConversation[]> {
    const groups = await this.all('/groups?archived=false', Group, signal);
    return groups.filter((g) => !g.archived_at).map((g) => this.toConversation(g));
  }

  async addMembers(id: string, members: string[], signal?: AbortSignal) {
    const before = await this.setGroup(id, { add: members, remove: [] }, signal);
    return { added: members.filter((m) => !before.has(m)) };
  }

  async removeMembers(id: string, members: string[], signal?: AbortSignal) {
    const before = await this.setGroup(id, { add: [], remove: members }, signal);
    return { removed: members.filter((m) => before.has(m)) };
  }

  async rename(id: string, name: string, signal?: AbortSignal): Promise<void> {
    await this.setGroup(id, { name, add: [], remove: [] }, signal);
  }

  async updateConversation(id: string, change: { name?: string; add: string[]; remove: string[] }, signal?: AbortSignal): Promise<void> {
    await this.setGroup(id, change, signal);
  }

  /**
   * One PUT with the complete list (and the name), read back to confirm; no PUT when nothing
   * changes. Returns the members before.
   */
  private async setGroup(id: string, change: { name?: string; add: string[]; remove: string[] }, signal?: AbortSignal): Promise<Set<string>> {
    const group = await this.group(id, signal);
    if (!group) throw new PermanentError(`group ${id} does not exist`, { origin: 'protocol', status: 404, label: 'invalid_request' });
    if (!group.conversation_id) await this.ensureConversation(group.id, signal);
    const before = new Set(group.contacts.map((c) => c.id));
    const gone = new Set(change.remove);
    const wanted = [...new Set([...before, ...change.add])].filter((m) => !gone.has(m));
    const same = wanted.length === before.size && wanted.every((m) => before.has(m));
    if (same && (change.name === undefined || change.name === group.name)) return before;
    try {
      await this.call('PUT', `/groups/${encodeURIComponent(id)}`, { name: change.name, contacts: wanted.map((m) => ({ id: m })) }, signal);
    } catch (e) {
      const unknown = await this.unknownContacts(e, change.add, signal);
      throw unknown.length === 0 ? e : unknownContact(unknown);
    }
    const after = await this.group(id, signal);
    const now = new Set(after?.contacts.map((c) => c.id) ?? []);
    if (!after || now.size !== wanted.length || wanted.some((m) => !now.has(m)) || (change.name !== undefined && after.name !== change.name)) {
      throw new PermanentError(`group ${id} does not hold the members just set (the PUT was not applied as a replacement)`, {
        origin: 'protocol',
        label: 'contract',
      });
    }
    return before;
  }

  async archive(id: string, signal?: AbortSignal): Promise<void> {
    const at = Math.floor(Date.now() / 1000);
    const res = await this.call('PUT', `/groups/${encodeURIComponent(id)}`, { archived_at: at }, signal);
    const group = this.parse(Group, res, 'PUT /groups/:id');
    if (group.conversation_id) await this.call('PUT', `/conversations/${encodeURIComponent(group.conversation_id)}`, { archived_at: at }, signal);
  }

  /** already gone (a repeat after a lost answer) is done too */
  async delete(id: string, signal?: AbortSignal): Promise<void> {
    this.isGone(await this.call('DELETE', `/groups/${encodeURIComponent(id)}`, undefined, signal, [404]), 'DELETE /groups/:id');
  }

  /** usernames (or phone numbers, `contacts.matchOn`) → contact ids, from the full contact list */
  async lookupHandles(handles: string[], signal?: AbortSignal) {
    const field = this.config.contacts.matchOn;
    const known = new Map<string, string>();
    for (const c of await this.all('/contacts', Contact, signal)) {
      const key = (field === 'username' ? c.username : c.phone_number)?.toLowerCase();
      if (key) known.set(key, c.id);
    }
    return new Map(handles.map((h) => [h, known.get(h.toLowerCase()) ?? null]));
  }

  /** every item of a listing, page by page */
  private async all<T extends { id: string }>(path: string, item: z.ZodType<T>, signal?: AbortSignal): Promise<T[]> {
    const out: T[] = [];
    const seen = new Set<string>();
    const what = `GET ${path.split('?')[0]}`;
    for (let after: string | undefined; ;) {
      const from = after ? `&starting_after=${encodeURIComponent(after)}` : '';
      const page = this.parse(List(item), await this.call('GET', `${path}${path.includes('?') ? '&' : '?'}limit=${PAGE}${from}`, undefined, signal), what);
      out.push(...page.data);
      after = nextPage(page, seen, what);
      if (after === undefined) return out;
    }
  }

  /** a missing contact is made only with `contacts.create`, matched by username, with a known phone number */
  newUser(handle: string, details: { phone?: string; displayName?: string }): NewUser | undefined {
    if (!this.config.contacts.create || this.config.contacts.matchOn !== 'username' || !details.phone) return undefined;
    return { handle, phone: details.phone, ...(details.displayName ? { displayName: details.displayName } : {}) };
  }

  async createUser(user: NewUser, signal?: AbortSignal): Promise<string> {
    const res = await this.call(
      'POST',
      '/contacts',
      { username: user.handle, phone_number: user.phone, ...(user.displayName ? { display_name: user.displayName } : {}) },
      signal,
    );
    const created = this.parse(Contact, res, 'POST /contacts');
    this.ctx.logger.info({ backend: 'protocol', contact: created.id }, 'created a missing contact');
    return created.id;
  }

  /** after a 400 to a call that named these contacts: those Protocol does not know (none: the 400 is about something else) */
  private async unknownContacts(e: unknown, ids: string[], signal?: AbortSignal): Promise<string[]> {
    if (!(e instanceof PermanentError) || e.status !== 400 || ids.length === 0) return [];
    const known = new Set((await this.all('/contacts', Contact, signal)).map((c) => c.id));
    return ids.filter((m) => !known.has(m));
  }

  private async group(id: string, signal?: AbortSignal): Promise<Group | undefined> {
    const res = await this.call('GET', `/groups/${encodeURIComponent(id)}`, undefined, signal, [404]);
    return this.isGone(res, 'GET /groups/:id') ? undefined : this.parse(Group, res, 'GET /groups/:id');
  }

  /**
   * Whether a group's answer says it is gone: a 404 with the API's own `invalid_request`; a 404 from
   * elsewhere (a wrong baseUrl, a proxy) says nothing of the group, and is an error
   */
  private isGone(res: HttpResponse, what: string): boolean {
    if (res.status !== 404) return false;
    if (isUnknownId(res)) return true;
    throw new PermanentError(`${what}: HTTP 404 without the API's error object (is baseUrl right?)`, { origin: 'protocol', status: 404, label: 'contract' });
  }

  private async call(method: Dispatcher.HttpMethod, path: string, body?: unknown, signal?: AbortSignal, allowed: number[] = []): Promise<HttpResponse> {
    const send = async () =>
      httpRequest('protocol', {
        method,
        url: this.base + path,
        headers: { authorization: await this.auth.header(signal) },
        body,
        timeoutMs: this.config.timeoutMs,
        signal,
        dispatcher: this.dispatcher,
      });
    let res = await send();
    this.ctx.onResponse?.(res.status);
    if (res.status === 401 && this.auth.renewable) {
      this.auth.invalidate();
      res = await send();
      this.ctx.onResponse?.(res.status);
    }
    if (res.status >= 300 && !allowed.includes(res.status)) throw this.error(res, `${method} ${path.split('?')[0]}`);
    return res;
  }

  private error(res: HttpResponse, what: string): SyncError {
    const body = parseJson(res.text) as { type?: unknown; message?: unknown } | undefined;
    const label = typeof body?.type === 'string' ? body.type : undefined;
    const message = `${what}: ${typeof body?.message === 'string' ? body.message : `HTTP ${res.status}`}`;
    // a bad token is a 401 (reference §4.2, §5.2), and so is a 403 to the listing every run starts with; a 403 on one group is that
    // request's client error: the run goes on
    if (res.status === 401 || (res.status === 403 && what === 'GET /groups'))
      return new AuthError(message, { origin: 'protocol', status: res.status, ...(label ? { label } : {}) });
    return errorForStatus('protocol', res, label, message);
  }

  private parse<T>(schema: z.ZodType<T>, res: HttpResponse, what: string): T {
    const r = schema.safeParse(parseJson(res.text));
    if (r.success) return r.data;
    const issue = r.error.issues[0];
    throw new PermanentError(
      `${what}: answer outside the Protocol contract (HTTP ${res.status}, ${issue ? `${issue.path.join('.') || '(body)'}: ${issue.message}` : 'unreadable'})`,
      {
        origin: 'protocol',
        status: res.status,
        label: 'contract',
      },
    );
  }

  private toConversation(g: Group): BackendConversation {
    const marker = MARKED.exec(g.description ?? '')?.[1];
    return {
      id: g.id,
      name: g.name,
      members: g.contacts.map((c) => c.id),
      ...(g.created_at ? { createdAt: g.created_at * 1000 } : {}),
      marker,
    };
  }
}

export const protocolBackend = {
  type: 'protocol',
  create: (config: ProtocolBackendConfig, ctx: BackendContext) => new ProtocolBackend(config, ctx),
} satisfies BackendAdapter<ProtocolBackendConfig>;
