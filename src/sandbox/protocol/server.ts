import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  LOST_RESPONSE_DEFAULTS,
  LostResponses,
  type LoseRule,
  type LostAs,
  type LostAnswer,
  type LostResponse,
  type LostResponseFaults,
} from '../lost-responses.js';
import { seededRandom } from '../random.js';

/**
 * A fake "Protocol" chat API (reference/mixin-protocol-api.md §1.2, §3, §5.2): bare objects, lists
 * as `{has_more, data}` with `limit` ≤ 100 and `starting_after`/`ending_before` cursors, errors as
 * `{type, message, documentation_url}`, groups that carry their conversation, and membership set
 * only by `contacts` on a group (a PUT replaces the list; items are `{id}` or bare ids). It records
 * calls and injects faults, lost answers among them. It shares no code with the Protocol adapter.
 */

export interface ProtocolContact {
  id: string;
  username: string;
  phone_number: string;
  avatar_url: string | null;
  display_name: string | null;
  conversation_id: string | null;
  last_active_at: number | null;
  created_at: number;
}

export interface ProtocolGroup {
  id: string;
  name: string;
  description: string | null;
  avatar_url: string | null;
  conversation_id: string | null;
  contacts: string[];
  created_at: number;
  archived_at: number | null;
}

interface ProtocolConversation {
  id: string;
  contact_id: string | null;
  group_id: string | null;
  pinned_message_id: string | null;
  is_pinned: boolean;
  is_muted: boolean;
  last_active_at: number | null;
  last_opened_at: number | null;
  created_at: number;
  archived_at: number | null;
}

export interface ProtocolFaults extends LostResponseFaults {
  /** share of requests answered 500 api_error before they are processed */
  errorRatio: number;
  /** every Nth request is answered 429 with Retry-After; 0 = never */
  throttleEvery: number;
  retryAfterSeconds: number;
  latencyMs: number;
}

export interface ProtocolSandboxOptions {
  /** the documented static API token */
  token: string;
  basic?: { username: string; password: string };
  /** also accept OAuth2 client credentials at POST /oauth/token, with tokens of this lifetime */
  oauth?: { clientId: string; clientSecret: string; lifetimeSeconds: number };
  maxMembers?: number;
  seed?: number;
  faults?: Partial<ProtocolFaults>;
}

export interface ProtocolCall {
  method: string;
  path: string;
  status: number;
  write: boolean;
  at: number;
  /** the write was applied but its answer was lost this way */
  lost?: LostAs;
}

class Reply {
  constructor(
    readonly status: number,
    readonly body?: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

const error = (status: number, type: 'invalid_request' | 'api_error', message: string, headers: Record<string, string> = {}) =>
  new Reply(status, { type, message, documentation_url: `https://protocol.chat/docs/errors/${type}` }, headers);

export class ProtocolSandbox {
  readonly contacts = new Map<string, ProtocolContact>();
  readonly groups = new Map<string, ProtocolGroup>();
  readonly conversations = new Map<string, ProtocolConversation>();
  readonly calls: ProtocolCall[] = [];
  /** malformed requests a faithful client would not send */
  readonly violations: string[] = [];
  readonly faults: ProtocolFaults;
  private readonly random: () => number;
  private readonly losses: LostResponses;
  private counted = 0;
  private server: Server | undefined;
  url = '';

  /** OAuth2 client-credentials tokens issued (our addition to the documented static token) */
  private readonly issued = new Map<string, number>();

  private constructor(private readonly opts: ProtocolSandboxOptions) {
    this.random = seededRandom(opts.seed ?? 11);
    this.faults = { errorRatio: 0, throttleEvery: 0, retryAfterSeconds: 1, latencyMs: 0, ...LOST_RESPONSE_DEFAULTS, ...opts.faults };
    this.losses = new LostResponses(this.faults, this.random);
  }

  static async start(opts: ProtocolSandboxOptions): Promise<ProtocolSandbox> {
    const s = new ProtocolSandbox(opts);
    s.server = createServer((req, res) => {
      void s.handle(req).then(({ reply, lost }) => {
        s.losses.deliver(res, lost, () => {
          res.writeHead(reply.status, { ...(reply.body === undefined ? {} : { 'content-type': 'application/json' }), ...reply.headers });
          res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
        });
      });
    });
    await new Promise<void>((r) => s.server!.listen(0, '127.0.0.1', () => r()));
    s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
    return s;
  }

  get baseUrl(): string {
    return `${this.url}/v1`;
  }

  async stop(): Promise<void> {
    this.losses.release();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server?.closeAllConnections();
  }

  addContact(c: { username: string; phone_number?: string; display_name?: string; id?: string }): ProtocolContact {
    const contact: ProtocolContact = {
      id: c.id ?? this.newId(),
      username: c.username,
      phone_number: c.phone_number ?? '+10000000000',
      avatar_url: null,
      display_name: c.display_name ?? null,
      conversation_id: null,
      last_active_at: null,
      created_at: this.now(),
    };
    this.contacts.set(contact.id, contact);
    return contact;
  }

  writeCalls(): ProtocolCall[] {
    return this.calls.filter((c) => c.write);
  }

  /** the next `times` successful writes matching `rule` are applied but lose their answer */
  loseResponses(rule: LoseRule): void {
    this.losses.queue(rule);
  }

  /** every answer lost so far */
  get lost(): LostResponse[] {
    return this.losses.lost;
  }

  private newId(): string {
    const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    return Array.from({ length: 16 }, () => abc[Math.floor(this.random() * abc.length)]).join('');
  }

  private now(): number {
    return Math.floor(Date.now() / 1000);
  }

  private async handle(req: IncomingMessage): Promise<{ reply: Reply; lost: LostAnswer | undefined }> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    if (this.faults.latencyMs > 0) await sleep(this.faults.latencyMs);
    const method = req.method ?? 'GET';
    const write = method !== 'GET';
    let reply: Reply;
    try {
      reply = this.route(req, method, url, raw);
    } catch (e) {
      reply = error(500, 'api_error', (e as Error).message);
    }
    const lost = write && reply.status < 400 ? this.losses.take(method, url.pathname) : undefined;
    this.calls.push({ method, path: url.pathname, status: reply.status, write, at: Date.now(), ...(lost ? { lost: lost.as } : {}) });
    if (reply.status === 400) this.violations.push(`${method} ${url.pathname}: ${JSON.stringify(reply.body)}`);
    return { reply, lost };
  }

  private route(req: IncomingMessage, method: string, url: URL, raw: string): Reply {
    this.counted++;
    if (this.faults.throttleEvery > 0 && this.counted % this.faults.throttleEvery === 0) {
      return error(429, 'invalid_request', 'Too many requests', { 'retry-after': String(this.faults.retryAfterSeconds) });
    }
    if (this.faults.errorRatio > 0 && this.random() < this.faults.errorRatio) return error(500, 'api_error', 'Something went wrong on our end');
    if (url.pathname === '/oauth/token' && method === 'POST') return this.issueToken(req.headers.authorization, parseBody(raw, req.headers['content-type']));
    if (!this.authorized(req.headers.authorization)) return error(401, 'invalid_request', 'Invalid API token');

    const body = (): Record<string, unknown> => parseBody(raw, req.headers['content-type']);
    const p = url.pathname;
    let m: RegExpExecArray | null;
    if (p === '/v1/contacts' && method === 'GET') return this.list([...this.contacts.values()], url);
    if (p === '/v1/contacts' && method === 'POST') return this.createContact(body());
    if ((m = /^\/v1\/contacts\/([^/]+)$/.exec(p))) {
      const c = this.contacts.get(m[1]!);
      if (!c) return error(404, 'invalid_request', `No contact ${m[1]}`);
      if (method === 'GET') return new Reply(200, c);
      if (method === 'PUT') {
        const b = body();
        const other = Object.keys(b).filter((k) => k !== 'display_name');
        if (other.length > 0) return error(400, 'invalid_request', `only display_name can be updated, not ${other.join(', ')}`);
        c.display_name = typeof b.display_name === 'string' ? b.display_name : null;
        return new Reply(200, c);
      }
      if (method === 'DELETE') {
        this.contacts.delete(c.id);
        for (const g of this.groups.values()) g.contacts = g.contacts.filter((id) => id !== c.id);
        return new Reply(204);
      }
    }
    if (p === '/v1/groups' && method === 'GET') {
      const archived = url.searchParams.get('archived');
      const all = [...this.groups.values()].filter((g) => archived === null || (archived === 'true') === (g.archived_at !== null));
      return this.list(
        all.map((g) => this.groupOut(g)),
        url,
      );
    }
    if (p === '/v1/groups' && method === 'POST') return this.createGroup(body());
    if ((m = /^\/v1\/groups\/([^/]+)$/.exec(p))) {
      const g = this.groups.get(m[1]!);
      if (!g) return error(404, 'invalid_request', `No group ${m[1]}`);
      if (method === 'GET') return new Reply(200, this.groupOut(g));
      if (method === 'PUT') return this.updateGroup(g, body());
      if (method === 'DELETE') {
        this.groups.delete(g.id);
        if (g.conversation_id) this.conversations.delete(g.conversation_id);
        return new Reply(204);
      }
    }
    if (p === '/v1/conversations' && method === 'GET') {
      const groupId = url.searchParams.get('group_id');
      return this.list(
        [...this.conversations.values()].filter((c) => groupId === null || c.group_id === groupId),
        url,
      );
    }
    if (p === '/v1/conversations' && method === 'POST') {
      const b = body();
      const group = typeof b.group_id === 'string' ? this.groups.get(b.group_id) : undefined;
      if (!group) return error(400, 'invalid_request', 'a contact_id or group_id is required');
      return new Reply(200, this.conversationFor(group));
    }
    if ((m = /^\/v1\/conversations\/([^/]+)$/.exec(p))) {
      const c = this.conversations.get(m[1]!);
      if (!c) return error(404, 'invalid_request', `No conversation ${m[1]}`);
      if (method === 'GET') return new Reply(200, c);
      if (method === 'PUT') {
        const b = body();
        if ('archived_at' in b) c.archived_at = b.archived_at === null ? null : Number(b.archived_at);
        for (const k of ['is_pinned', 'is_muted'] as const) if (k in b) c[k] = b[k] === true || b[k] === 'true';
        return new Reply(200, c);
      }
    }
    return error(404, 'invalid_request', `No route ${method} ${p}`);
  }

  private issueToken(header: string | undefined, body: Record<string, unknown>): Reply {
    const o = this.opts.oauth;
    const basic = /^Basic (.+)$/.exec(header ?? '');
    const [id, secret] = basic ? Buffer.from(basic[1]!, 'base64').toString().split(':').map(decodeURIComponent) : [];
    if (!o || body.grant_type !== 'client_credentials' || id !== o.clientId || secret !== o.clientSecret) {
      return new Reply(401, { error: 'invalid_client' });
    }
    const token = this.newId() + this.newId();
    this.issued.set(token, Date.now() + o.lifetimeSeconds * 1000);
    return new Reply(200, { access_token: token, token_type: 'Bearer', expires_in: o.lifetimeSeconds });
  }

  private authorized(header: string | undefined): boolean {
    if (header === `Bearer ${this.opts.token}`) return true;
    const bearer = /^Bearer (.+)$/.exec(header ?? '')?.[1];
    const expires = bearer ? this.issued.get(bearer) : undefined;
    if (expires !== undefined) return expires > Date.now();
    const b = this.opts.basic;
    return b !== undefined && header === `Basic ${Buffer.from(`${b.username}:${b.password}`).toString('base64')}`;
  }

  private list<T extends { id: string }>(items: T[], url: URL): Reply {
    const limit = url.searchParams.has('limit') ? Number(url.searchParams.get('limit')) : 10;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return error(400, 'invalid_request', 'limit must be between 1 and 100');
    const after = url.searchParams.get('starting_after');
    const before = url.searchParams.get('ending_before');
    let start = 0;
    let end = items.length;
    if (after) {
      const i = items.findIndex((x) => x.id === after);
      if (i < 0) return error(400, 'invalid_request', `starting_after: no such id ${after}`);
      start = i + 1;
    }
    if (before) {
      const i = items.findIndex((x) => x.id === before);
      if (i < 0) return error(400, 'invalid_request', `ending_before: no such id ${before}`);
      end = i;
      start = Math.max(0, end - limit);
    }
    const data = items.slice(start, Math.min(end, start + limit));
    return new Reply(200, { has_more: start + data.length < end, data });
  }

  private createContact(b: Record<string, unknown>): Reply {
    if (typeof b.username !== 'string' || !b.username) return error(400, 'invalid_request', 'username is required');
    if (typeof b.phone_number !== 'string' || !b.phone_number) return error(400, 'invalid_request', 'phone_number is required');
    const c = this.addContact({
      username: b.username,
      phone_number: b.phone_number,
      ...(typeof b.display_name === 'string' ? { display_name: b.display_name } : {}),
    });
    return new Reply(200, c);
  }

  /** `contacts`: `{id}` objects or bare ids, all known, within the member cap */
  private contactIds(value: unknown): string[] | Reply {
    if (!Array.isArray(value)) return error(400, 'invalid_request', 'contacts must be an array');
    const ids: string[] = [];
    for (const item of value) {
      const id = typeof item === 'string' ? item : item && typeof item === 'object' ? (item as { id?: unknown }).id : undefined;
      if (typeof id !== 'string' || !this.contacts.has(id)) return error(400, 'invalid_request', `unknown contact ${JSON.stringify(item)}`);
      if (!ids.includes(id)) ids.push(id);
    }
    if (this.opts.maxMembers !== undefined && ids.length > this.opts.maxMembers) {
      return error(422, 'invalid_request', `a group has at most ${this.opts.maxMembers} contacts`);
    }
    return ids;
  }

  private createGroup(b: Record<string, unknown>): Reply {
    if (typeof b.name !== 'string' || !b.name) return error(400, 'invalid_request', 'name is required');
    const contacts = b.contacts === undefined ? [] : this.contactIds(b.contacts);
    if (contacts instanceof Reply) return contacts;
    const g: ProtocolGroup = {
      id: this.newId(),
      name: b.name,
      description: typeof b.description === 'string' ? b.description : null,
      avatar_url: typeof b.avatar_url === 'string' ? b.avatar_url : null,
      conversation_id: null,
      contacts,
      created_at: this.now(),
      archived_at: null,
    };
    this.groups.set(g.id, g);
    this.conversationFor(g);
    return new Reply(200, this.groupOut(g));
  }

  private updateGroup(g: ProtocolGroup, b: Record<string, unknown>): Reply {
    if ('name' in b && (typeof b.name !== 'string' || !b.name)) return error(400, 'invalid_request', 'name must be a non-empty string');
    let contacts: string[] | undefined;
    if ('contacts' in b) {
      const ids = this.contactIds(b.contacts);
      if (ids instanceof Reply) return ids;
      contacts = ids;
    }
    if (typeof b.name === 'string') g.name = b.name;
    if ('description' in b) g.description = typeof b.description === 'string' ? b.description : null;
    if (contacts) g.contacts = contacts;
    if ('archived_at' in b) g.archived_at = b.archived_at === null ? null : Number(b.archived_at);
    return new Reply(200, this.groupOut(g));
  }

  private conversationFor(g: ProtocolGroup): ProtocolConversation {
    const existing = g.conversation_id ? this.conversations.get(g.conversation_id) : undefined;
    if (existing) return existing;
    const c: ProtocolConversation = {
      id: this.newId(),
      contact_id: null,
      group_id: g.id,
      pinned_message_id: null,
      is_pinned: false,
      is_muted: false,
      last_active_at: null,
      last_opened_at: null,
      created_at: this.now(),
      archived_at: null,
    };
    this.conversations.set(c.id, c);
    g.conversation_id = c.id;
    return c;
  }

  private groupOut(g: ProtocolGroup) {
    return { ...g, contacts: g.contacts.map((id) => this.contacts.get(id)).filter((c) => c !== undefined) };
  }
}

function parseBody(raw: string, type: string | undefined): Record<string, unknown> {
  if (!raw) return {};
  if (type?.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw));
  try {
    const v = JSON.parse(raw) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
