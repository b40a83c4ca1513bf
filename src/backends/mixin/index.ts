import { randomUUID, type KeyObject } from 'node:crypto';
import type { Dispatcher } from 'undici';
import * as z from 'zod';
import type { MixinBackendConfig } from '../../config/schema.js';
import { AuthError, CapacityError, PermanentError, TransientError, type SyncError } from '../../errors.js';
import { errorForStatus, httpRequest, parseJson, retryAfterMs, type HttpResponse } from '../../http/request.js';
import type { Backend, BackendAdapter, BackendContext, BackendConversation } from '../types.js';
import { groupConversationId } from './ids.js';
import { ed25519FromSeed, readKeystore, signRequest, type Keystore } from './keystore.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const Conversation = z.looseObject({
  conversation_id: z.string(),
  category: z.string(),
  name: z.string().nullish(),
  creator_id: z.string().nullish(),
  created_at: z.string().nullish(),
  participants: z.array(z.looseObject({ user_id: z.string(), role: z.string().nullish() })),
});
type Conversation = z.infer<typeof Conversation>;
const Me = z.looseObject({ user_id: z.string(), full_name: z.string().nullish() });
const Users = z.array(z.looseObject({ user_id: z.string() }));

/**
 * Mixin Messenger, as a bot: every request signed with a fresh EdDSA JWT bound to it; errors as
 * HTTP 202 `{error: {status, code, description}}`; GROUP conversations whose id is derived from the
 * bot, the name, the sorted participants and a `random_id`, both persisted before the POST (the
 * reconciler journals what `prepareCreate` returns). Members change through participants ADD and
 * REMOVE, diffed against a fresh read; the bot, as creator, stays OWNER. Conversations cannot be
 * deleted.
 */
class MixinBackend implements Backend {
  readonly id = 'mixin';
  readonly capabilities;
  private keystore: Keystore | undefined;
  private key: KeyObject | undefined;
  private readonly base: string;
  private readonly dispatcher: Dispatcher | undefined;

  constructor(
    private readonly config: MixinBackendConfig,
    private readonly ctx: BackendContext,
  ) {
    this.base = config.baseUrl.replace(/\/+$/, '');
    this.dispatcher = ctx.dispatcher;
    this.capabilities = {
      // 256 with the bot counted: 255 people
      maxMembers: config.maxMembers,
      // a group's name is at most 512 characters
      maxNameLength: 512,
      selfIsMember: true,
      verifyUserIds: config.verifyUsers,
      addBatch: config.maxMembers,
      removeBatch: config.maxMembers,
      removedGroup: 'keep' as const,
      reportsCreator: true,
    };
  }

  parseUserId(value: string): string | undefined {
    const v = value.trim().toLowerCase();
    return UUID.test(v) ? v : undefined;
  }

  async whoami(signal?: AbortSignal) {
    const me = this.parse(Me, await this.call('GET', '/me', undefined, signal), 'GET /me');
    if (me.user_id !== this.ks().app_id) {
      throw new AuthError(`the keystore is for ${this.ks().app_id} but Mixin answered as ${me.user_id}`, { origin: 'mixin' });
    }
    return { userId: me.user_id, ...(me.full_name ? { displayName: me.full_name } : {}) };
  }

  /** a fresh random_id and the conversation id derived from it, to be journaled before the POST */
  prepareCreate(input: { name: string; members: string[] }): Record<string, string> {
    const randomId = randomUUID();
    return { randomId, conversationId: groupConversationId(this.ks().app_id, input.name, input.members, randomId) };
  }

  async create(input: { name: string; members: string[]; prepared?: Record<string, string> }, signal?: AbortSignal): Promise<BackendConversation> {
    const prepared = input.prepared ?? this.prepareCreate(input);
    const body = {
      category: 'GROUP',
      conversation_id: prepared.conversationId,
      name: input.name,
      announcement: '',
      participants: input.members.map((user_id) => ({ user_id })),
      random_id: prepared.randomId,
    };
    return this.toConversation(this.parse(Conversation, await this.call('POST', '/conversations', body, signal), 'POST /conversations'));
  }

  async get(id: string, signal?: AbortSignal): Promise<BackendConversation | undefined> {
    const c = await this.read(id, signal);
    return c && this.toConversation(c);
  }

  async addMembers(id: string, members: string[], signal?: AbortSignal) {
    const current = await this.read(id, signal);
    if (!current) throw new PermanentError(`conversation ${id} does not exist`, { origin: 'mixin', label: '404' });
    const present = new Set(current.participants.map((p) => p.user_id));
    const added = members.filter((m) => !present.has(m));
    // a POST whose answer was lost may land twice: only what is missing now is sent
    if (added.length > 0)
      await this.call(
        'POST',
        `/conversations/${id}/participants/ADD`,
        added.map((user_id) => ({ user_id })),
        signal,
      );
    return { added };
  }

  async removeMembers(id: string, members: string[], signal?: AbortSignal) {
    const current = await this.read(id, signal);
    if (!current) return { removed: [] };
    const present = new Set(current.participants.map((p) => p.user_id));
    const removed = members.filter((m) => present.has(m) && m !== this.ks().app_id);
    if (removed.length > 0)
      await this.call(
        'POST',
        `/conversations/${id}/participants/REMOVE`,
        removed.map((user_id) => ({ user_id })),
        signal,
      );
    return { removed };
  }

  async rename(id: string, name: string, signal?: AbortSignal): Promise<void> {
    await this.call('POST', `/conversations/${id}`, { name }, signal);
  }

  /** ids Mixin knows (`POST /users/fetch` drops unknown ones silently), 100 per call */
  async knownUsers(ids: string[], signal?: AbortSignal): Promise<Set<string>> {
    const known = new Set<string>();
    for (let i = 0; i < ids.length; i += 100) {
      const res = await this.call('POST', '/users/fetch', ids.slice(i, i + 100), signal);
      for (const u of this.parse(Users, res, 'POST /users/fetch')) known.add(u.user_id);
    }
    return known;
  }

  private async read(id: string, signal?: AbortSignal): Promise<Conversation | undefined> {
    try {
      return this.parse(Conversation, await this.call('GET', `/conversations/${id}`, undefined, signal), 'GET /conversations/:id');
    } catch (e) {
      if (e instanceof PermanentError && e.label === '404') return undefined;
      throw e;
    }
  }

  private ks(): Keystore {
    if (!this.keystore) {
      try {
        this.keystore = readKeystore(this.config.keystoreFile);
        this.key = ed25519FromSeed(this.keystore.session_private_key);
      } catch (e) {
        throw new AuthError((e as Error).message, { origin: 'mixin' });
      }
    }
    return this.keystore;
  }

  private async call(method: Dispatcher.HttpMethod, uri: string, body?: unknown, signal?: AbortSignal): Promise<HttpResponse> {
    const ks = this.ks();
    // serialised once: the signature covers exactly the bytes sent
    const text = body === undefined ? '' : JSON.stringify(body);
    const { token, requestId } = signRequest(ks, this.key!, method, uri, text, this.config.tokenLifetimeSeconds);
    const res = await httpRequest('mixin', {
      method,
      url: this.base + uri,
      headers: { authorization: `Bearer ${token}`, 'x-request-id': requestId, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: text } : {}),
      timeoutMs: this.config.timeoutMs,
      signal,
      dispatcher: this.dispatcher,
    });
    this.ctx.onResponse?.(res.status);
    if (res.status >= 500)
      throw new TransientError(`${method} ${uri.split('?')[0]}: HTTP ${res.status}`, { origin: 'mixin', status: res.status, ambiguous: true });
    // Mixin itself answers only 20x and 500: any other status is an edge's (a throttle, a timeout, a WAF's 403
    // page), no answer of Mixin's, so typed by the status alone, with no label of its own
    if (res.status < 200 || res.status >= 300) throw errorForStatus('mixin', res, undefined, `${method} ${uri.split('?')[0]}: HTTP ${res.status}`);
    const echoed = res.headers['x-request-id'];
    // the answer to another request: this one may have been applied all the same, and is looked for like a lost answer
    if (typeof echoed === 'string' && echoed !== requestId) {
      throw new TransientError(`${method} ${uri}: the answer is for request ${echoed}, not ${requestId}`, {
        origin: 'mixin',
        label: 'contract',
        ambiguous: true,
      });
    }
    const err = (parseJson(res.text) as { error?: { code?: unknown; description?: unknown } } | undefined)?.error;
    if (err && typeof err.code === 'number' && err.code > 0) throw this.error(err.code, String(err.description ?? ''), res, `${method} ${uri.split('?')[0]}`);
    return res;
  }

  /** Mixin's codes (reference §5.1) as typed errors; the HTTP status is 202 for all of them */
  private error(code: number, description: string, res: HttpResponse, what: string): SyncError {
    // not the HTTP status: Mixin sends every error as 202, which would read as a 2xx whose body was unreadable
    // (a create made, its answer lost); the code is the label
    // a client error's code is the HTTP status Mixin would have sent (403: convsync is no participant)
    const details = { origin: 'mixin', label: String(code), ...(code >= 400 && code < 500 ? { status: code } : {}) };
    const message = `${what}: ${description || `error ${code}`}`;
    if (code === 401) return new AuthError(message, details);
    if (code === 429) return new TransientError(message, { ...details, throttled: true, retryAfterMs: retryAfterMs(res.headers) ?? 1000 });
    if (code === 500 || code === 7000 || code === 7001) return new TransientError(message, { ...details, ambiguous: true });
    if (code === 20116) return new CapacityError(message, details);
    if (code === 911) return new AuthError(`${message} (check the clock: Mixin says the time is inaccurate)`, details);
    return new PermanentError(message, details);
  }

  private parse<T>(schema: z.ZodType<T>, res: HttpResponse, what: string): T {
    const data = (parseJson(res.text) as { data?: unknown } | undefined)?.data;
    const r = schema.safeParse(data);
    if (r.success) return r.data;
    const i = r.error.issues[0];
    throw new PermanentError(`${what}: answer outside the Mixin contract (HTTP ${res.status}, ${i ? `data.${i.path.join('.')}: ${i.message}` : 'no data'})`, {
      origin: 'mixin',
      status: res.status,
      label: 'contract',
    });
  }

  private toConversation(c: Conversation): BackendConversation {
    const self = this.ks().app_id;
    return {
      id: c.conversation_id,
      name: c.name ?? '',
      members: c.participants.map((p) => p.user_id).filter((u) => u !== self),
      ...(c.creator_id ? { creator: c.creator_id } : {}),
      ...(c.created_at && !Number.isNaN(Date.parse(c.created_at)) ? { createdAt: Date.parse(c.created_at) } : {}),
    };
  }
}

export const mixinBackend = {
  type: 'mixin',
  create: (config: MixinBackendConfig, ctx: BackendContext) => new MixinBackend(config, ctx),
  fileIssues(config: MixinBackendConfig) {
    try {
      ed25519FromSeed(readKeystore(config.keystoreFile).session_private_key);
      return [];
    } catch (e) {
      return [{ path: 'backend.keystoreFile', message: (e as Error).message }];
    }
  },
} satisfies BackendAdapter<MixinBackendConfig>;
