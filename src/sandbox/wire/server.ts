import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { LostResponses, type LoseRule, type LostAs, type LostResponse } from '../lost-responses.js';
import { randomUuid, seededRandom } from '../random.js';
import { Auth } from './auth.js';
import { Conversations } from './conversations.js';
import { fail, noEndpoint, parseBody, Reply } from './http.js';
import {
  DEFAULT_FAULTS,
  DEFAULT_FEATURES,
  type BaseProtocol,
  type FakeConversation,
  type FakeCookie,
  type FakeToken,
  type FakeUser,
  type TeamRole,
  type WireFaults,
  type WireFeatures,
  type WireWorld,
} from './state.js';
import { Teams } from './teams.js';

export type { WireFaults, WireFeatures } from './state.js';

export interface RecordedCall {
  method: string;
  path: string;
  status: number;
  /** the call changed (or tried to change) conversations or credentials (apps and their cookies) */
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
  /** enabled stable versions (default 0–15); the fake implements v6–v15 */
  supported?: number[];
  /** development versions, announced separately (default [16]); an announced one is served like v15 */
  development?: number[];
  maxConvSize?: number;
  seed?: number;
  faults?: Partial<WireFaults>;
  /** the team's features and the backend's MLS (default: channels and MLS off, as Wire's chart) */
  features?: Partial<WireFeatures>;
}

/** the API versions the fake serves: v6–v15, and v16 (served as v15) when announced */
const MIN_VERSION = 6;
const MAX_VERSION = 16;
/** nginz's `client_max_body_size` (512k): a bigger body gets nginx's 413 (reference/wire-api.md §4.1) */
const MAX_BODY_BYTES = 512 * 1024;
/** a UUID in a path, in any case (servant parses it as one) */
const UUID_ANY_CASE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** routes that change credentials (cookies) but not conversations: lost only by a rule that names their path */
const CREDENTIAL_ROUTES = new Set(['/login', '/access', '/access/logout']);

interface RouteContext {
  caller: FakeUser;
  p: string[];
  url: URL;
  version: number;
  body: () => unknown;
}

interface Route {
  method: string;
  path: RegExp;
  /** the first version with this route */
  from?: number;
  write: boolean;
  run: (x: RouteContext) => Reply;
}

/**
 * A fake Wire backend that serves the v6–v15 contract of `reference/wire-api.md` and
 * `reference/wire-api-2026.md` over real HTTP: it answers with Wire's status codes, labels and
 * 204-means-no-change, the v10+ conversation shapes, conversation protocols (proteus, mixed, mls)
 * with `403 invalid-op` on REST membership of MLS groups, team channels run by team admins, team
 * features, team apps and their cookies, SSO and 2FA logins; it enforces roles, the conversation
 * size rule and token lifetimes, records every call, and injects faults (503s, 420 throttling with
 * Retry-After, short tokens, latency, lost answers, the password rate limit). It shares no code
 * with the Wire adapter.
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
  /** the team's features; change them while the sandbox runs as an admin would */
  readonly features: WireFeatures;
  /** logins made, by persist flag */
  readonly logins: { persist: boolean; label: string | null }[] = [];
  private readonly random: () => number;
  private readonly losses: LostResponses;
  private readonly world: WireWorld;
  private readonly auth: Auth;
  private readonly convs: Conversations;
  private readonly teams: Teams;
  private readonly routes: Route[];
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
    this.features = { ...DEFAULT_FEATURES, ...opts.features };
    this.losses = new LostResponses(this.faults, this.random);
    const world: WireWorld = {
      domain: this.domain,
      teamId: this.teamId,
      maxConvSize: this.maxConvSize,
      users: this.users,
      conversations: this.conversations,
      faults: this.faults,
      features: this.features,
      random: this.random,
      cookies: new Map<string, FakeCookie>(),
      tokens: new Map<string, FakeToken>(),
      logins: this.logins,
    };
    this.world = world;
    this.teams = new Teams(world);
    this.auth = new Auth(world, (u) => this.teams.profile(u));
    this.convs = new Conversations(world);
    this.routes = this.routeTable();
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

  // ---- test hooks -----------------------------------------------------------------------------

  /**
   * A team member (or, with `team: false`, a user outside the team). `sso: true` is a user
   * provisioned by SAML/SCIM: no password unless given, and exempt from the 2FA challenge.
   */
  addUser(u: {
    id?: string;
    name?: string;
    email?: string;
    handle?: string;
    password?: string;
    role?: TeamRole;
    team?: boolean;
    searchable?: boolean;
    sso?: boolean;
    supportedProtocols?: BaseProtocol[];
  }): FakeUser {
    const user: FakeUser = {
      id: u.id ?? randomUuid(this.random),
      name: u.name ?? u.email ?? 'user',
      role: u.role ?? 'member',
      searchable: u.searchable ?? true,
      ...(u.team === false ? {} : { team: this.teamId }),
      ...(u.email ? { email: u.email } : {}),
      ...(u.handle ? { handle: u.handle } : {}),
      ...(u.password ? { password: u.password } : {}),
      ...(u.sso ? { sso: true } : {}),
      ...(u.supportedProtocols ? { supportedProtocols: u.supportedProtocols } : {}),
    };
    this.users.set(user.id, user);
    return user;
  }

  /** a team app, as an admin's `POST /teams/{tid}/apps` makes it: the app user and its persistent cookie */
  addApp(a: { name: string; category?: string; description?: string }): { user: FakeUser; cookie: string } {
    return this.auth.makeApp(a.name, a.category ?? 'other', a.description ?? '', this.teamId);
  }

  /** a new cookie for an app (`POST /teams/{tid}/apps/{uid}/cookies`): every earlier one is revoked */
  refreshAppCookie(userId: string): string {
    if (this.users.get(userId)?.type !== 'app') throw new Error(`${userId} is not an app`);
    return this.auth.renewAppCookie(userId);
  }

  /** what a member's client does (`PUT …/protocol`), without the migration criteria: proteus → mixed → mls */
  migrateConversation(id: string, to: 'mixed' | 'mls'): void {
    this.convs.migrate(id, to);
  }

  /** the 2FA code the user would get by email for its next login */
  verificationCode(userId: string): string {
    return this.auth.verificationCode(userId);
  }

  /** the backend's operator turns these versions off (galley's disabledAPIVersions): their prefix answers 404 unsupported-version */
  disableVersions(...versions: number[]): void {
    for (const v of versions) if (this.supported.includes(v)) this.supported.splice(this.supported.indexOf(v), 1);
  }

  /** every access token expires now (the next call gets a 401) */
  expireTokens(): void {
    for (const t of this.world.tokens.values()) t.expiresAt = 0;
  }

  /** revoke login cookies: all of them, or all but each user's newest (a superseded cookie dies) */
  revokeCookies(opts: { keepNewest?: boolean } = {}): void {
    const newest = new Map<string, FakeCookie>();
    for (const c of this.world.cookies.values()) newest.set(c.user, c);
    for (const c of this.world.cookies.values()) if (!opts.keepNewest || newest.get(c.user) !== c) c.revoked = true;
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
    const bytes = Buffer.concat(chunks);
    const raw = bytes.toString('utf8');
    let reply: Reply;
    let write = false;
    try {
      if (this.faults.latencyMs > 0) await sleep(this.faults.latencyMs);
      if (bytes.length > MAX_BODY_BYTES) {
        reply = new Reply(
          413,
          '<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n',
        );
      } else {
        const routed = this.route(req, url, raw);
        reply = routed.reply;
        write = routed.write;
      }
    } catch (e) {
      reply = fail(500, 'server-error', (e as Error).message);
    }
    const method = req.method ?? 'GET';
    const credential = method === 'POST' && CREDENTIAL_ROUTES.has(url.pathname.replace(/^\/v\d+/, ''));
    const lost = reply.status < 400 && (write || credential) ? this.losses.take(method, url.pathname, { namedOnly: !write }) : undefined;
    this.calls.push({
      method,
      path: url.pathname,
      status: reply.status,
      write,
      at: Date.now(),
      ...subjectOf(method, url.pathname, raw),
      ...(lost ? { lost: lost.as } : {}),
    });
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
    if (path === '/access' && method === 'POST') return { reply: this.auth.access(req), write: false };
    if (path === '/access/logout' && method === 'POST') return { reply: this.auth.logout(req), write: false };

    // a version is served only if announced (supported, or development): disabled ones do not exist
    if (m && !this.supported.includes(version) && !this.development.includes(version)) {
      return { reply: fail(404, 'unsupported-version', `Version v${version} is not supported`), write: false };
    }
    if (version < MIN_VERSION || version > MAX_VERSION) return { reply: noEndpoint(), write: false };

    if (path === '/login' && method === 'POST') return { reply: this.auth.login(url, raw), write: false };

    const caller = this.auth.authenticate(req);
    if (!caller) return { reply: new Reply(401, '<html><body><h1>401 Authorization Required</h1></body></html>'), write: false };

    for (const r of this.routes) {
      if (r.method !== method) continue;
      const match = r.path.exec(path);
      if (!match) continue;
      // a route that does not exist in this version (galley: "no-endpoint")
      if (r.from !== undefined && version < r.from) return { reply: noEndpoint(), write: false };
      // a UUID in a path is parsed as one (servant's FromHttpApiData UUID): any case
      const p = match.slice(1).map((s) => (UUID_ANY_CASE.test(s) ? s.toLowerCase() : s));
      return { reply: r.run({ caller, p, url, version, body: () => parseBody(raw) }), write: r.write };
    }
    return { reply: noEndpoint(), write: false };
  }

  private routeTable(): Route[] {
    const c = this.convs;
    const t = this.teams;
    const seg = '([^/]+)';
    const route = (method: string, pattern: string, write: boolean, run: Route['run'], from?: number): Route => ({
      method,
      path: new RegExp(`^${pattern}$`),
      write,
      run,
      ...(from === undefined ? {} : { from }),
    });
    return [
      route('GET', '/self', false, (x) => t.self(x.caller)),
      route('POST', '/conversations', true, (x) => c.create(x.caller, x.body(), x.version)),
      route('POST', '/conversations/list-ids', false, (x) => c.listIds(x.caller, x.body())),
      route('POST', '/conversations/list', false, (x) => c.list(x.caller, x.body())),
      route('GET', `/conversations/${seg}/${seg}`, false, (x) => c.get(x.caller, x.p[0]!, x.p[1]!, x.version)),
      route('POST', `/conversations/${seg}/${seg}/members`, true, (x) => c.addMembers(x.caller, x.p[0]!, x.p[1]!, x.body())),
      route('PUT', `/conversations/${seg}/${seg}/members`, true, (x) => c.replaceMembers(x.caller, x.p[0]!, x.p[1]!, x.body()), 13),
      route('DELETE', `/conversations/${seg}/${seg}/members/${seg}/${seg}`, true, (x) => c.removeMember(x.caller, x.p[0]!, x.p[1]!, x.p[2]!, x.p[3]!)),
      route('PUT', `/conversations/${seg}/${seg}/name`, true, (x) => c.rename(x.caller, x.p[0]!, x.p[1]!, x.body())),
      route('PUT', `/conversations/${seg}/${seg}/protocol`, true, (x) => c.updateProtocol(x.caller, x.p[0]!, x.p[1]!, x.body())),
      // the {tid} path segment is ignored, as the real handler does
      route('DELETE', `/teams/${seg}/conversations/${seg}`, true, (x) => c.deleteConversation(x.caller, x.p[1]!)),
      route('GET', `/teams/${seg}/conversations`, false, (x) => t.teamConversations(x.caller, x.p[0]!)),
      route('GET', `/teams/${seg}/members`, false, (x) => t.teamMembers(x.caller, x.p[0]!, x.url)),
      route('GET', `/teams/${seg}/members/${seg}`, false, (x) => t.teamMemberOne(x.caller, x.p[0]!, x.p[1]!)),
      route('GET', `/teams/${seg}/features/${seg}`, false, (x) => t.feature(x.caller, x.p[0]!, x.p[1]!)),
      route('GET', '/feature-configs', false, (x) => t.featureConfigs(x.caller)),
      route('POST', '/list-users', false, (x) => t.listUsers(x.body())),
      route('POST', `/teams/${seg}/apps`, true, (x) => this.auth.createApp(x.caller, x.p[0]!, x.body()), 12),
      route('POST', `/teams/${seg}/apps/${seg}/cookies`, true, (x) => this.auth.refreshAppCookie(x.caller, x.p[0]!, x.p[1]!, x.body()), 12),
    ];
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
}

/** which conversation and users a member call names, for the call log */
function subjectOf(method: string | undefined, path: string, raw: string): { conversation?: string; users?: string[] } {
  const members = /^\/v\d+\/conversations\/[^/]+\/([^/]+)\/members$/.exec(path);
  if (members && (method === 'POST' || method === 'PUT')) {
    const b = parseBody(raw) as { qualified_users?: { id?: unknown }[] } | undefined;
    const users = Array.isArray(b?.qualified_users) ? b.qualified_users.map((q) => String(q?.id)) : [];
    return { conversation: members[1]!, users };
  }
  const remove = /^\/v\d+\/conversations\/[^/]+\/([^/]+)\/members\/[^/]+\/([^/]+)$/.exec(path);
  if (remove && method === 'DELETE') return { conversation: remove[1]!, users: [remove[2]!] };
  return {};
}
