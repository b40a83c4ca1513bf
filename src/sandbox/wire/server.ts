import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { LostResponses, type LoseRule, type LostAs, type LostResponse } from '../lost-responses.js';
import { randomUuid, seededRandom } from '../random.js';
import {
  DEFAULT_FAULTS,
  PERMISSION_BITS,
  TEAM_PERMS,
  type ConversationRole,
  type FakeConversation,
  type FakeCookie,
  type FakeToken,
  type FakeUser,
  type TeamRole,
  type WireFaults,
} from './state.js';

export interface RecordedCall {
  method: string;
  path: string;
  status: number;
  /** the call changed (or tried to change) conversations */
  write: boolean;
  at: number;
  /** the conversation and users a member call was about */
  conversation?: string;
  users?: string[];
  /** the write was applied but its answer was lost this way */
  lost?: LostAs;
}

export interface WireSandboxOptions {
  domain?: string;
  /** enabled stable versions (default 0–15) */
  supported?: number[];
  /** development versions, announced separately (default [16]) */
  development?: number[];
  maxConvSize?: number;
  seed?: number;
  faults?: Partial<WireFaults>;
}

class Reply {
  constructor(
    readonly status: number,
    readonly body?: unknown,
    readonly headers: Record<string, string | string[]> = {},
  ) {}
}

/** Wire's error body */
function fail(status: number, label: string, message: string, headers: Record<string, string> = {}): Reply {
  return new Reply(status, { code: status, label, message }, headers);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ROLES: ConversationRole[] = ['wire_admin', 'wire_member'];
const IMPLEMENTED = new Set([6, 7, 8, 9]);

/**
 * A fake Wire backend that serves the v6–v9 contract of `reference/wire-api.md` over real HTTP:
 * it answers with Wire's status codes, labels and 204-means-no-change, enforces roles, the
 * conversation size rule and token lifetimes, records every call, and injects faults (503s, 420
 * throttling with Retry-After, short tokens, latency, lost answers). It shares no code with the
 * Wire adapter.
 */
export class WireSandbox {
  readonly domain: string;
  readonly teamId: string;
  readonly maxConvSize: number;
  readonly users = new Map<string, FakeUser>();
  readonly conversations = new Map<string, FakeConversation>();
  readonly calls: RecordedCall[] = [];
  /** requests the real server would reject as malformed (400s): a faithful client causes none */
  readonly violations: string[] = [];
  readonly faults: WireFaults;
  /** logins made, by persist flag */
  readonly logins: { persist: boolean; label: string | null }[] = [];
  private readonly cookies = new Map<string, FakeCookie>();
  private readonly tokens = new Map<string, FakeToken>();
  private readonly random: () => number;
  private readonly losses: LostResponses;
  private counted = 0;
  private server: Server | undefined;
  private readonly supported: number[];
  private readonly development: number[];
  url = '';

  private constructor(opts: WireSandboxOptions) {
    this.random = seededRandom(opts.seed ?? 7);
    this.domain = opts.domain ?? 'sandbox.wire.test';
    this.teamId = randomUuid(this.random);
    this.maxConvSize = opts.maxConvSize ?? 500;
    this.supported = opts.supported ?? Array.from({ length: 16 }, (_, i) => i);
    this.development = opts.development ?? [16];
    this.faults = { ...DEFAULT_FAULTS, ...opts.faults };
    this.losses = new LostResponses(this.faults, this.random);
  }

  static async start(opts: WireSandboxOptions = {}): Promise<WireSandbox> {
    const s = new WireSandbox(opts);
    s.server = createServer((req, res) => void s.handle(req, res));
    await new Promise<void>((resolve) => s.server!.listen(0, '127.0.0.1', () => resolve()));
    s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
    return s;
  }

  async stop(): Promise<void> {
    this.losses.release();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
  }

  /** a team member (or, with `team: false`, a user outside the team) */
  addUser(u: { id?: string; name?: string; email?: string; handle?: string; password?: string; role?: TeamRole; team?: boolean; searchable?: boolean }): FakeUser {
    const user: FakeUser = {
      id: u.id ?? randomUuid(this.random),
      name: u.name ?? u.email ?? 'user',
      role: u.role ?? 'member',
      searchable: u.searchable ?? true,
      ...(u.team === false ? {} : { team: this.teamId }),
      ...(u.email ? { email: u.email } : {}),
      ...(u.handle ? { handle: u.handle } : {}),
      ...(u.password ? { password: u.password } : {}),
    };
    this.users.set(user.id, user);
    return user;
  }

  /** every access token expires now (the next call gets a 401) */
  expireTokens(): void {
    for (const t of this.tokens.values()) t.expiresAt = 0;
  }

  /** revoke login cookies: all of them, or all but each user's newest (a superseded cookie dies) */
  revokeCookies(opts: { keepNewest?: boolean } = {}): void {
    const newest = new Map<string, FakeCookie>();
    for (const c of this.cookies.values()) newest.set(c.user, c);
    for (const c of this.cookies.values()) if (!opts.keepNewest || newest.get(c.user) !== c) c.revoked = true;
  }

  writeCalls(): RecordedCall[] {
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

  // ---- HTTP -----------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let reply: Reply;
    let write = false;
    try {
      if (this.faults.latencyMs > 0) await sleep(this.faults.latencyMs);
      const routed = this.route(req, url, raw);
      reply = routed.reply;
      write = routed.write;
    } catch (e) {
      reply = fail(500, 'server-error', (e as Error).message);
    }
    const method = req.method ?? 'GET';
    const lost = write && reply.status < 400 ? this.losses.take(method, url.pathname) : undefined;
    this.calls.push({ method, path: url.pathname, status: reply.status, write, at: Date.now(), ...subjectOf(method, url.pathname, raw), ...(lost ? { lost: lost.as } : {}) });
    if (reply.status === 400) this.violations.push(`${req.method} ${url.pathname}: ${JSON.stringify(reply.body)}`);
    const headers: Record<string, string | string[]> = { ...reply.headers };
    let body = '';
    if (reply.body !== undefined) {
      body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      headers['content-type'] ??= typeof reply.body === 'string' ? 'text/html' : 'application/json';
    }
    this.losses.deliver(res, lost, () => res.writeHead(reply.status, headers).end(body));
  }

  private route(req: IncomingMessage, url: URL, raw: string): { reply: Reply; write: boolean } {
    const method = req.method ?? 'GET';
    const m = /^\/v(\d+)(\/.*)$/.exec(url.pathname);
    const version = m ? Number(m[1]) : 0;
    const path = m ? m[2]! : url.pathname;

    // /api-version: unversioned, no auth, never limited
    if (path === '/api-version' && method === 'GET') {
      return { reply: new Reply(200, { supported: this.supported, development: this.development, federation: false, domain: this.domain }), write: false };
    }
    const fault = this.injectedFault();
    if (fault) return { reply: fault, write: false };

    // /access*: unversioned on purpose (nginz also takes /vN/access)
    if (path === '/access' && method === 'POST') return { reply: this.access(req), write: false };
    if (path === '/access/logout' && method === 'POST') return { reply: this.logout(req), write: false };

    if (m && !this.supported.includes(version)) return { reply: fail(404, 'unsupported-version', `Version v${version} is not supported`), write: false };
    if (!IMPLEMENTED.has(version)) return { reply: fail(404, 'no-endpoint', 'The requested endpoint does not exist'), write: false };

    if (path === '/login' && method === 'POST') return { reply: this.login(url, raw), write: false };

    const caller = this.authenticate(req);
    if (!caller) return { reply: new Reply(401, '<html><body><h1>401 Authorization Required</h1></body></html>'), write: false };

    const body = (): unknown => parseBody(raw);
    let r: RegExpExecArray | null;
    if (path === '/self' && method === 'GET') return { reply: this.self(caller), write: false };
    if (path === '/conversations' && method === 'POST') return { reply: this.create(caller, body()), write: true };
    if (path === '/conversations/list-ids' && method === 'POST') return { reply: this.listIds(caller, body()), write: false };
    if (path === '/conversations/list' && method === 'POST') return { reply: this.list(caller, body()), write: false };
    if ((r = /^\/conversations\/([^/]+)\/([^/]+)$/.exec(path)) && method === 'GET') return { reply: this.get(caller, r[1]!, r[2]!), write: false };
    if ((r = /^\/conversations\/([^/]+)\/([^/]+)\/members$/.exec(path)) && method === 'POST') {
      return { reply: this.addMembers(caller, r[1]!, r[2]!, body()), write: true };
    }
    if ((r = /^\/conversations\/([^/]+)\/([^/]+)\/members\/([^/]+)\/([^/]+)$/.exec(path)) && method === 'DELETE') {
      return { reply: this.removeMember(caller, r[1]!, r[2]!, r[3]!, r[4]!), write: true };
    }
    if ((r = /^\/conversations\/([^/]+)\/([^/]+)\/name$/.exec(path)) && method === 'PUT') {
      return { reply: this.rename(caller, r[1]!, r[2]!, body()), write: true };
    }
    if ((r = /^\/teams\/([^/]+)\/conversations\/([^/]+)$/.exec(path)) && method === 'DELETE') {
      return { reply: this.deleteConversation(caller, r[2]!), write: true };
    }
    if ((r = /^\/teams\/([^/]+)\/conversations$/.exec(path)) && method === 'GET') return { reply: this.teamConversations(caller, r[1]!), write: false };
    if ((r = /^\/teams\/([^/]+)\/members$/.exec(path)) && method === 'GET') return { reply: this.teamMembers(caller, r[1]!, url), write: false };
    if (path === '/list-users' && method === 'POST') return { reply: this.listUsers(body()), write: false };
    return { reply: fail(404, 'no-endpoint', 'The requested endpoint does not exist'), write: false };
  }

  private injectedFault(): Reply | undefined {
    this.counted++;
    const f = this.faults;
    if (f.throttleEvery > 0 && this.counted % f.throttleEvery === 0) {
      // the edge proxy's answer: no Wire JSON
      return new Reply(f.throttleStatus, '<html><body>Too Many Requests</body></html>', { 'retry-after': String(f.retryAfterSeconds) });
    }
    if (f.errorRatio > 0 && this.random() < f.errorRatio) return new Reply(503, '<html><body>503 Service Unavailable</body></html>');
    return undefined;
  }

  // ---- auth -----------------------------------------------------------------------------------

  private authenticate(req: IncomingMessage): FakeUser | undefined {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const token = m ? this.tokens.get(m[1]!) : undefined;
    if (!token || token.expiresAt <= Date.now()) return undefined;
    return this.users.get(token.user);
  }

  private issueToken(user: string): { user: string; access_token: string; token_type: 'Bearer'; expires_in: number } {
    const value = randomBytes(24).toString('base64url');
    this.tokens.set(value, { value, user, expiresAt: Date.now() + this.faults.tokenLifetimeSeconds * 1000 });
    return { user, access_token: value, token_type: 'Bearer', expires_in: this.faults.tokenLifetimeSeconds };
  }

  private issueCookie(user: string, label: string | null, persistent: boolean): string {
    const value = randomBytes(24).toString('base64url');
    const ttl = persistent ? 4_838_400 : 86_400;
    this.cookies.set(value, { value, user, label, persistent, expiresAt: Date.now() + ttl * 1000, revoked: false });
    const expires = persistent ? `; Expires=${new Date(Date.now() + ttl * 1000).toUTCString()}` : '';
    return `zuid=${value}; Path=/access${expires}; HttpOnly; Secure`;
  }

  private login(url: URL, raw: string): Reply {
    const b = parseBody(raw);
    if (!isObject(b)) return fail(400, 'bad-request', 'Error in $: expected Object');
    if (typeof b.password !== 'string' || b.password.length < 6) return fail(400, 'bad-request', "Error in $.password: expected PlainTextPassword6");
    if (typeof b.email !== 'string' && typeof b.handle !== 'string') return fail(400, 'bad-request', "Error in $: 'email' or 'handle' required");
    const label = typeof b.label === 'string' ? b.label : null;
    const user = [...this.users.values()].find(
      (u) => u.password !== undefined && (typeof b.email === 'string' ? u.email === b.email : u.handle === b.handle),
    );
    if (!user || user.password !== b.password) return fail(403, 'invalid-credentials', 'Authentication failed');
    const persist = url.searchParams.get('persist') === 'true';
    this.logins.push({ persist, label });
    // a new login revokes the user's older cookies with the same label
    for (const c of this.cookies.values()) if (c.user === user.id && c.label === label) c.revoked = true;
    return new Reply(200, this.issueToken(user.id), { 'set-cookie': this.issueCookie(user.id, label, persist) });
  }

  private cookieOf(req: IncomingMessage): FakeCookie | 'missing' | 'invalid' | 'expired' {
    const values = [...(req.headers.cookie ?? '').matchAll(/(?:^|;\s*)zuid=([^;]+)/g)].map((x) => x[1]!);
    if (values.length === 0) return 'missing';
    const valid = values.map((v) => this.cookies.get(v)).filter((c): c is FakeCookie => c !== undefined && !c.revoked);
    if (valid.length === 0) return 'invalid';
    const fresh = valid.find((c) => c.expiresAt > Date.now());
    return fresh ?? 'expired';
  }

  private access(req: IncomingMessage): Reply {
    const cookie = this.cookieOf(req);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (cookie === 'missing') return fail(403, 'invalid-credentials', bearer ? 'Missing cookie' : 'Missing cookie and token');
    if (cookie === 'invalid') return fail(403, 'invalid-credentials', 'Invalid zauth token');
    if (cookie === 'expired') return fail(403, 'invalid-credentials', 'Zauth token expired');
    if (bearer) {
      // the old token may be expired, but it must be one we issued, for the same user
      const old = this.tokens.get(bearer[1]!);
      if (!old || old.user !== cookie.user) return fail(403, 'invalid-credentials', 'Invalid zauth token');
    }
    const headers: Record<string, string> = {};
    if (this.faults.renewCookieOnAccess && cookie.persistent) headers['set-cookie'] = this.issueCookie(cookie.user, cookie.label, true);
    return new Reply(200, this.issueToken(cookie.user), headers);
  }

  private logout(req: IncomingMessage): Reply {
    const cookie = this.cookieOf(req);
    if (!/^Bearer /.test(req.headers.authorization ?? '')) return fail(403, 'invalid-credentials', 'Missing token');
    if (typeof cookie === 'string') return fail(403, 'invalid-credentials', 'Invalid zauth token');
    cookie.revoked = true;
    return new Reply(200);
  }

  // ---- users and teams ------------------------------------------------------------------------

  private profile(u: FakeUser) {
    return {
      qualified_id: { id: u.id, domain: this.domain },
      id: u.id,
      name: u.name,
      ...(u.handle ? { handle: u.handle } : {}),
      team: u.team ?? null,
      accent_id: 0,
      supported_protocols: ['proteus'],
    };
  }

  private self(caller: FakeUser): Reply {
    return new Reply(200, {
      ...this.profile(caller),
      ...(caller.email ? { email: caller.email } : {}),
      locale: 'en',
      managed_by: 'wire',
      searchable: caller.searchable,
    });
  }

  private teamMembers(caller: FakeUser, tid: string, url: URL): Reply {
    if (caller.team !== tid) return fail(403, 'no-team-member', 'Requesting user is not a team member');
    const max = url.searchParams.has('maxResults') ? Number(url.searchParams.get('maxResults')) : 2000;
    if (!Number.isInteger(max) || max < 1 || max > 2000) return fail(400, 'bad-request', 'Error in $: maxResults out of range 1..2000');
    const offset = Number(url.searchParams.get('pagingState') ? Buffer.from(url.searchParams.get('pagingState')!, 'base64url').toString() : 0);
    const visible = [...this.users.values()]
      .filter((u) => u.team === tid && (u.searchable || u.id === caller.id))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    const page = visible.slice(offset, offset + max);
    const hasMore = offset + max < visible.length;
    return new Reply(200, {
      members: page.map((u) => ({
        user: u.id,
        permissions: { self: PERMISSION_BITS[u.role], copy: PERMISSION_BITS[u.role] },
        created_by: null,
        created_at: null,
        legalhold_status: 'disabled',
      })),
      hasMore,
      pagingState: Buffer.from(String(offset + page.length)).toString('base64url'),
    });
  }

  private listUsers(b: unknown): Reply {
    if (!isObject(b)) return fail(400, 'bad-request', 'Error in $: expected Object');
    const byIds = Array.isArray(b.qualified_ids);
    const byHandles = Array.isArray(b.qualified_handles);
    if (byIds === byHandles) return fail(400, 'bad-request', 'exactly one of qualified_ids or qualified_handles must be provided.');
    if (byHandles) {
      const handles = b.qualified_handles as unknown[];
      if (handles.length < 1 || handles.length > 4) return fail(400, 'bad-request', 'Error in $.qualified_handles: expected 1..4 handles');
      const found = handles.flatMap((h) =>
        isObject(h) && h.domain === this.domain ? [...this.users.values()].filter((u) => u.handle === h.handle).map((u) => this.profile(u)) : [],
      );
      return new Reply(200, { found });
    }
    const ids = b.qualified_ids as unknown[];
    if (!ids.every(isQualified)) return fail(400, 'bad-request', 'Error in $.qualified_ids: expected qualified ids');
    const found: unknown[] = [];
    const failed: unknown[] = [];
    for (const q of ids as { id: string; domain: string }[]) {
      const u = q.domain === this.domain ? this.users.get(q.id) : undefined;
      if (u) found.push(this.profile(u));
      else if (q.domain !== this.domain) failed.push(q);
    }
    return new Reply(200, { found, ...(failed.length ? { failed } : {}) });
  }

  // ---- conversations --------------------------------------------------------------------------

  private view(c: FakeConversation, viewer: FakeUser) {
    const member = (id: string, role: ConversationRole) => ({
      qualified_id: { id, domain: this.domain },
      id,
      service: null,
      status: 0,
      conversation_role: role,
    });
    return {
      qualified_id: { id: c.id, domain: this.domain },
      id: c.id,
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
      group_conv_type: 'group_conversation',
      cells_state: 'disabled',
      members: {
        self: {
          ...member(viewer.id, c.members.get(viewer.id) ?? 'wire_member'),
          status_ref: '0.0',
          status_time: '1970-01-01T00:00:00.000Z',
          otr_muted_status: null,
          otr_muted_ref: null,
          otr_archived: false,
          otr_archived_ref: null,
          hidden: false,
          hidden_ref: null,
        },
        others: [...c.members].filter(([id]) => id !== viewer.id).map(([id, role]) => member(id, role)),
      },
      protocol: c.protocol,
    };
  }

  private event(type: string, c: FakeConversation, from: FakeUser, data: unknown) {
    return {
      type,
      conversation: c.id,
      qualified_conversation: { id: c.id, domain: this.domain },
      from: from.id,
      qualified_from: { id: from.id, domain: this.domain },
      time: new Date().toISOString(),
      team: c.team,
      via: 'user',
      data,
    };
  }

  /** the checks every invitee goes through ([WS-cutil] ensureAccessRole, connections) */
  private checkInvitee(q: { id: string; domain: string }, team: string | null): Reply | undefined {
    if (q.domain !== this.domain) return fail(422, 'federation-not-enabled', 'No federator configured');
    const u = this.users.get(q.id);
    if (!u) return fail(403, 'access-denied', 'Conversation access denied');
    if (team !== null && u.team !== team) return fail(403, 'not-connected', 'Users are not connected');
    return undefined;
  }

  private create(caller: FakeUser, b: unknown): Reply {
    if (!isObject(b)) return fail(400, 'bad-request', 'Error in $: expected Object');
    if (b.qualified_users !== undefined && !(Array.isArray(b.qualified_users) && b.qualified_users.every(isQualified))) {
      return fail(400, 'bad-request', 'Error in $.qualified_users: expected an array of qualified ids');
    }
    if (b.users !== undefined && !(Array.isArray(b.users) && b.users.every((u) => typeof u === 'string' && UUID.test(u)))) {
      return fail(400, 'bad-request', 'Error in $.users: expected an array of UUIDs');
    }
    if (b.name !== undefined && b.name !== null && (typeof b.name !== 'string' || b.name.length < 1 || b.name.length > 256)) {
      return fail(400, 'bad-request', 'Error in $.name: expected a string of 1..256 characters');
    }
    if (b.team !== undefined && b.team !== null) {
      if (!isObject(b.team) || typeof b.team.teamid !== 'string' || !UUID.test(b.team.teamid)) {
        return fail(400, 'bad-request', 'Error in $.team.teamid: expected a UUID');
      }
      if (!('managed' in b.team)) return fail(400, 'bad-request', 'Error in $.team: key "managed" not found');
    }
    const role = b.conversation_role ?? 'wire_admin';
    if (!ROLES.includes(role as ConversationRole)) return fail(400, 'bad-request', 'Error in $.conversation_role: unknown role');
    const protocol = b.protocol ?? 'proteus';
    if (protocol !== 'proteus' && protocol !== 'mls') return fail(400, 'bad-request', 'Error in $.protocol: expected proteus or mls');
    if (b.access_role !== undefined && Array.isArray(b.access_role) && b.access_role.length === 0) {
      return fail(403, 'access-denied', 'Conversation access denied');
    }

    const invitees = dedupe([
      ...((b.qualified_users as { id: string; domain: string }[] | undefined) ?? []),
      ...((b.users as string[] | undefined) ?? []).map((id) => ({ id, domain: this.domain })),
    ]).filter((q) => !(q.id === caller.id && q.domain === this.domain));
    if (invitees.length > this.maxConvSize - 1) return fail(400, 'client-error', `Invalid range: ${invitees.length} users, at most ${this.maxConvSize - 1}`);
    if (protocol === 'mls') {
      return invitees.length > 0
        ? fail(400, 'non-empty-member-list', 'Attempting to add group members outside MLS')
        : fail(400, 'mls-not-enabled', 'MLS is not configured on this backend. See docs.wire.com for instructions on how to enable it');
    }
    const team = isObject(b.team) ? (b.team.teamid as string) : null;
    if (team !== null) {
      if (caller.team !== team) return fail(403, 'no-team-member', 'Requesting user is not a team member');
      const perms = TEAM_PERMS[caller.role];
      if (!perms.has('CreateConversation') || (invitees.length > 1 && !perms.has('AddRemoveConvMember'))) {
        return fail(403, 'operation-denied', 'Insufficient permissions');
      }
    }
    for (const q of invitees) {
      const problem = this.checkInvitee(q, team);
      if (problem) return problem;
    }
    const c: FakeConversation = {
      id: randomUuid(this.random),
      name: typeof b.name === 'string' ? b.name : null,
      creator: caller.id,
      team,
      type: 0,
      access: Array.isArray(b.access) && b.access.length > 0 ? (b.access as string[]) : ['invite'],
      accessRole: ['non_team_member', 'service', 'team_member'],
      protocol: 'proteus',
      members: new Map([[caller.id, 'wire_admin']]),
    };
    for (const q of invitees) c.members.set(q.id, role as ConversationRole);
    this.conversations.set(c.id, c);
    return new Reply(201, { ...this.view(c, caller), failed_to_add: [] }, { location: c.id });
  }

  /** the conversation if the caller is in it; Wire's answers otherwise */
  private memberConversation(caller: FakeUser, domain: string, id: string): FakeConversation | Reply {
    const c = domain === this.domain ? this.conversations.get(id) : undefined;
    if (!c || !c.members.has(caller.id)) return fail(404, 'no-conversation', 'Conversation not found');
    return c;
  }

  private get(caller: FakeUser, domain: string, id: string): Reply {
    const c = domain === this.domain ? this.conversations.get(id) : undefined;
    if (!c) return fail(404, 'no-conversation', 'Conversation not found');
    if (!c.members.has(caller.id)) return fail(403, 'access-denied', 'Conversation access denied');
    return new Reply(200, this.view(c, caller));
  }

  private listIds(caller: FakeUser, b: unknown): Reply {
    if (!isObject(b)) return fail(400, 'bad-request', 'Error in $: expected Object');
    const size = b.size ?? 1000;
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 1000) return fail(400, 'bad-request', 'Error in $.size: expected 1..1000');
    if (b.paging_state !== undefined && b.paging_state !== null && typeof b.paging_state !== 'string') {
      return fail(400, 'bad-request', 'Error in $.paging_state: expected a string');
    }
    const offset = typeof b.paging_state === 'string' ? Number(Buffer.from(b.paging_state, 'base64url').toString()) || 0 : 0;
    const mine = [...this.conversations.values()].filter((c) => c.members.has(caller.id)).sort((a, b2) => (a.id < b2.id ? -1 : 1));
    const page = mine.slice(offset, offset + size);
    return new Reply(200, {
      qualified_conversations: page.map((c) => ({ id: c.id, domain: this.domain })),
      has_more: offset + size < mine.length,
      paging_state: Buffer.from(String(offset + page.length)).toString('base64url'),
    });
  }

  private list(caller: FakeUser, b: unknown): Reply {
    if (!isObject(b) || !Array.isArray(b.qualified_ids) || !b.qualified_ids.every(isQualified)) {
      return fail(400, 'bad-request', 'Error in $.qualified_ids: expected an array of qualified ids');
    }
    if (b.qualified_ids.length < 1 || b.qualified_ids.length > 1000) return fail(400, 'bad-request', 'Error in $.qualified_ids: expected 1..1000 ids');
    const found: unknown[] = [];
    const notFound: unknown[] = [];
    for (const q of b.qualified_ids as { id: string; domain: string }[]) {
      const c = q.domain === this.domain ? this.conversations.get(q.id) : undefined;
      if (c && c.members.has(caller.id)) found.push(this.view(c, caller));
      else notFound.push(q);
    }
    return new Reply(200, { found, not_found: notFound, failed: [] });
  }

  private addMembers(caller: FakeUser, domain: string, id: string, b: unknown): Reply {
    const c = this.memberConversation(caller, domain, id);
    if (c instanceof Reply) return c;
    if (!isObject(b) || !Array.isArray(b.qualified_users) || !b.qualified_users.every(isQualified)) {
      return fail(400, 'bad-request', 'Error in $.qualified_users: expected an array of qualified ids');
    }
    if (b.qualified_users.length === 0) return fail(400, 'bad-request', 'Error in $.qualified_users: parsing NonEmpty failed, unexpected empty list');
    const role = b.conversation_role ?? 'wire_admin';
    if (!ROLES.includes(role as ConversationRole)) return fail(400, 'bad-request', 'Error in $.conversation_role: unknown role');
    const callerRole = c.members.get(caller.id)!;
    if (callerRole !== 'wire_admin') return fail(403, 'action-denied', 'Insufficient authorization (missing add_conversation_member)');
    if (c.team !== null && caller.team === c.team && !TEAM_PERMS[caller.role].has('AddRemoveConvMember')) return fail(403, 'invalid-op', 'Invalid operation');
    if (!c.access.includes('invite')) return fail(403, 'access-denied', 'Conversation access denied');
    const invitees = dedupe(b.qualified_users as { id: string; domain: string }[]);
    for (const q of invitees) {
      const problem = this.checkInvitee(q, c.team);
      if (problem) return problem;
    }
    const fresh = invitees.filter((q) => !c.members.has(q.id));
    if (fresh.length === 0) return new Reply(204);
    if (c.members.size + fresh.length > this.maxConvSize) return fail(403, 'too-many-members', 'Maximum number of members per conversation reached');
    for (const q of fresh) c.members.set(q.id, role as ConversationRole);
    return new Reply(
      200,
      this.event('conversation.member-join', c, caller, {
        users: fresh.map((q) => ({ qualified_id: q, id: q.id, conversation_role: role })),
        user_ids: fresh.map((q) => q.id),
        add_type: 'internal_add',
      }),
    );
  }

  private removeMember(caller: FakeUser, domain: string, id: string, userDomain: string, userId: string): Reply {
    const c = this.memberConversation(caller, domain, id);
    if (c instanceof Reply) return c;
    const self = userId === caller.id && userDomain === this.domain;
    if (!self && c.members.get(caller.id) !== 'wire_admin') return fail(403, 'action-denied', 'Insufficient authorization (missing remove_conversation_member)');
    if (userDomain !== this.domain || !c.members.has(userId)) return new Reply(204);
    c.members.delete(userId);
    return new Reply(
      200,
      this.event('conversation.member-leave', c, caller, {
        reason: self ? 'left' : 'removed',
        qualified_user_ids: [{ id: userId, domain: this.domain }],
        user_ids: [userId],
      }),
    );
  }

  private rename(caller: FakeUser, domain: string, id: string, b: unknown): Reply {
    const c = this.memberConversation(caller, domain, id);
    if (c instanceof Reply) return c;
    if (!isObject(b) || typeof b.name !== 'string') return fail(400, 'bad-request', 'Error in $.name: expected String');
    if (b.name.length < 1 || b.name.length > 256) return fail(400, 'client-error', 'The name must have between 1 and 256 characters');
    if (c.members.get(caller.id) !== 'wire_admin') return fail(403, 'action-denied', 'Insufficient authorization (missing modify_conversation_name)');
    if (c.team !== null && caller.team === c.team && !TEAM_PERMS[caller.role].has('ModifyConvName')) return fail(403, 'invalid-op', 'Invalid operation');
    c.name = b.name;
    return new Reply(200, this.event('conversation.rename', c, caller, { name: b.name }));
  }

  private deleteConversation(caller: FakeUser, id: string): Reply {
    // the {tid} path segment is ignored, as the real handler does
    const c = this.memberConversation(caller, this.domain, id);
    if (c instanceof Reply) return c;
    if (c.members.get(caller.id) !== 'wire_admin') return fail(403, 'action-denied', 'Insufficient authorization (missing delete_conversation)');
    if (c.team === null || caller.team !== c.team) return fail(403, 'no-team-member', 'Requesting user is not a team member');
    this.conversations.delete(c.id);
    return new Reply(200);
  }

  private teamConversations(caller: FakeUser, tid: string): Reply {
    if (caller.team !== tid) return fail(403, 'no-team-member', 'Requesting user is not a team member');
    if (!TEAM_PERMS[caller.role].has('GetTeamConversations')) return fail(403, 'operation-denied', 'Insufficient permissions');
    return new Reply(200, {
      conversations: [...this.conversations.values()].filter((c) => c.team === tid).map((c) => ({ conversation: c.id, managed: false })),
    });
  }
}

function parseBody(raw: string): unknown {
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return Symbol('invalid');
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isQualified(v: unknown): v is { id: string; domain: string } {
  return isObject(v) && typeof v.id === 'string' && UUID.test(v.id) && typeof v.domain === 'string' && v.domain.length > 0;
}

function dedupe(list: { id: string; domain: string }[]): { id: string; domain: string }[] {
  const seen = new Set<string>();
  return list.filter((q) => {
    const k = `${q.id}@${q.domain}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** which conversation and users a member call names, for the call log */
function subjectOf(method: string | undefined, path: string, raw: string): { conversation?: string; users?: string[] } {
  const add = /^\/v\d+\/conversations\/[^/]+\/([^/]+)\/members$/.exec(path);
  if (add && method === 'POST') {
    const b = parseBody(raw) as { qualified_users?: { id?: unknown }[] } | undefined;
    const users = Array.isArray(b?.qualified_users) ? b.qualified_users.map((q) => String(q?.id)) : [];
    return { conversation: add[1]!, users };
  }
  const remove = /^\/v\d+\/conversations\/[^/]+\/([^/]+)\/members\/[^/]+\/([^/]+)$/.exec(path);
  if (remove && method === 'DELETE') return { conversation: remove[1]!, users: [remove[2]!] };
  return {};
}
