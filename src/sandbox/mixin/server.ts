import { createHash, createPublicKey, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  LOST_RESPONSE_DEFAULTS,
  LostResponses,
  type LoseRule,
  type LostAnswer,
  type LostAs,
  type LostResponse,
  type LostResponseFaults,
} from '../lost-responses.js';
import { randomUuid, seededRandom } from '../random.js';

/**
 * A fake Mixin Messenger API (reference/mixin-protocol-api.md §1.1, §2, §4.1, §5.1). It verifies
 * every bot JWT (EdDSA signature with the session's key, `sig` over the exact method, path, query
 * and body, `jti` equal to X-Request-Id and never reused, `exp`), derives GROUP ids itself and
 * refuses a mismatch or a missing `random_id`, enforces owner/admin rules and the 256 cap, and
 * answers errors as Mixin does: HTTP 202 with `{error: {status, code, description}}`. It can
 * lose the answer to a write it applied. It shares no code with the Mixin adapter.
 */

export interface MixinConversation {
  conversation_id: string;
  creator_id: string;
  category: 'GROUP';
  name: string;
  announcement: string;
  random_id: string;
  participants: Map<string, 'OWNER' | 'ADMIN' | ''>;
  created_at: string;
}

export interface MixinFaults extends LostResponseFaults {
  /** share of requests answered HTTP 500 with a non-JSON body */
  errorRatio: number;
  /** every Nth request is answered with error code 429 */
  throttleEvery: number;
  latencyMs: number;
}

export interface MixinCall {
  method: string;
  path: string;
  status: number;
  /** Mixin's error code, 0 on success */
  code: number;
  write: boolean;
  at: number;
  /** the write was applied but its answer was lost this way */
  lost?: LostAs;
}

class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}
const ok = (data: unknown) => new Reply(200, { data });
const fail = (code: number, description: string) => new Reply(202, { error: { status: 202, code, description } });

/** Mixin's UniqueConversationId, written again here so the fake checks the adapter, not itself */
function unique(a: string, b: string): string {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  const bytes = createHash('md5')
    .update(Buffer.compare(x, y) <= 0 ? Buffer.concat([x, y]) : Buffer.concat([y, x]))
    .digest();
  bytes[6] = (bytes[6]! & 0x0f) | 0x30;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const h = bytes.toString('hex');
  return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join('-');
}

export class MixinSandbox {
  readonly users = new Map<string, { user_id: string; full_name: string; identity_number: string }>();
  readonly conversations = new Map<string, MixinConversation>();
  readonly calls: MixinCall[] = [];
  /** requests a faithful client never sends: bad tokens, reused jti, missing random_id, wrong ids */
  readonly violations: string[] = [];
  readonly faults: MixinFaults;
  private readonly sessions = new Map<string, { appId: string; key: KeyObject }>();
  private readonly seenJti = new Set<string>();
  private readonly random: () => number;
  private readonly losses: LostResponses;
  private counted = 0;
  private server: Server | undefined;
  url = '';

  private constructor(
    private readonly maxMembers: number,
    faults: Partial<MixinFaults>,
    seed: number,
  ) {
    this.random = seededRandom(seed);
    this.faults = { errorRatio: 0, throttleEvery: 0, latencyMs: 0, ...LOST_RESPONSE_DEFAULTS, ...faults };
    this.losses = new LostResponses(this.faults, this.random);
  }

  static async start(opts: { maxMembers?: number; faults?: Partial<MixinFaults>; seed?: number } = {}): Promise<MixinSandbox> {
    const s = new MixinSandbox(opts.maxMembers ?? 256, opts.faults ?? {}, opts.seed ?? 5);
    s.server = createServer((req, res) => {
      void s.handle(req).then(({ reply, requestId, lost }) => {
        const headers: Record<string, string> = requestId ? { 'x-request-id': requestId } : {};
        s.losses.deliver(res, lost, () => {
          if (typeof reply.body === 'string') res.writeHead(reply.status, { ...headers, 'content-type': 'text/html' }).end(reply.body);
          else res.writeHead(reply.status, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
        });
      });
    });
    await new Promise<void>((r) => s.server!.listen(0, '127.0.0.1', () => r()));
    s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
    return s;
  }

  async stop(): Promise<void> {
    this.losses.release();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server?.closeAllConnections();
  }

  /** a bot user with a session, and the keystore its developer would download */
  createBot(name = 'convsync bot') {
    const user = this.addUser({ full_name: name });
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32).toString('hex');
    const sessionId = randomUuid(this.random);
    this.sessions.set(sessionId, { appId: user.user_id, key: createPublicKey(publicKey.export({ format: 'pem', type: 'spki' })) });
    return {
      userId: user.user_id,
      keystore: { app_id: user.user_id, session_id: sessionId, session_private_key: seed, server_public_key: '00'.repeat(32) },
    };
  }

  addUser(u: { user_id?: string; full_name?: string } = {}) {
    const user = { user_id: u.user_id ?? randomUuid(this.random), full_name: u.full_name ?? 'user', identity_number: String(7000 + this.users.size) };
    this.users.set(user.user_id, user);
    return user;
  }

  writeCalls(): MixinCall[] {
    return this.calls.filter((c) => c.write && c.code === 0 && c.status === 200);
  }

  /** the next `times` successful writes matching `rule` are applied but lose their answer */
  loseResponses(rule: LoseRule): void {
    this.losses.queue(rule);
  }

  /** every answer lost so far */
  get lost(): LostResponse[] {
    return this.losses.lost;
  }

  private async handle(req: IncomingMessage): Promise<{ reply: Reply; requestId: string | undefined; lost: LostAnswer | undefined }> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    if (this.faults.latencyMs > 0) await sleep(this.faults.latencyMs);
    const requestId = typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : undefined;
    const method = req.method ?? 'GET';
    let reply: Reply;
    try {
      reply = this.route(req, method, url, raw, requestId);
    } catch (e) {
      reply = new Reply(500, `<html>500 ${(e as Error).message}</html>`);
    }
    const code = (reply.body as { error?: { code?: number } })?.error?.code ?? 0;
    const write = method === 'POST' && url.pathname !== '/users/fetch';
    const lost = write && reply.status < 400 && code === 0 ? this.losses.take(method, url.pathname) : undefined;
    this.calls.push({ method, path: url.pathname, status: reply.status, code, write, at: Date.now(), ...(lost ? { lost: lost.as } : {}) });
    return { reply, requestId, lost };
  }

  private route(req: IncomingMessage, method: string, url: URL, raw: string, requestId: string | undefined): Reply {
    this.counted++;
    if (this.faults.throttleEvery > 0 && this.counted % this.faults.throttleEvery === 0) return fail(429, 'Too Many Requests');
    if (this.faults.errorRatio > 0 && this.random() < this.faults.errorRatio) return new Reply(500, '<html>502 Bad Gateway</html>');

    const caller = this.authenticate(req, method, url, raw, requestId);
    if (typeof caller !== 'string') {
      this.violations.push(`${method} ${url.pathname}: ${caller}`);
      return fail(401, 'Unauthorized, maybe invalid token.');
    }
    let body: unknown;
    try {
      body = raw ? (JSON.parse(raw) as unknown) : undefined;
    } catch {
      this.violations.push(`${method} ${url.pathname}: body is not JSON`);
      return fail(400, 'The request body can’t be parsed as valid data.');
    }
    const p = url.pathname;
    let m: RegExpExecArray | null;
    if (p === '/me' && method === 'GET') return ok({ type: 'user', ...this.users.get(caller) });
    if (p === '/users/fetch' && method === 'POST') {
      if (!Array.isArray(body)) return this.invalid(p, 'the body must be an array of user ids');
      return ok(body.filter((id): id is string => typeof id === 'string' && this.users.has(id)).map((id) => ({ type: 'user', ...this.users.get(id) })));
    }
    if (p === '/conversations' && method === 'POST') return this.create(caller, body);
    if ((m = /^\/conversations\/([^/]+)$/.exec(p))) {
      const c = this.conversations.get(m[1]!);
      if (!c) return fail(404, 'The endpoint is not found.');
      if (!c.participants.has(caller)) return fail(403, 'Forbidden.');
      if (method === 'GET') return ok(this.view(c));
      if (method === 'POST') {
        if (!this.manager(c, caller)) return fail(403, 'Forbidden.');
        const b = (body ?? {}) as { name?: unknown; announcement?: unknown };
        if (b.name !== undefined && (typeof b.name !== 'string' || b.name.length > 512))
          return this.invalid(p, 'name must be a string of at most 512 characters');
        if (typeof b.name === 'string') c.name = b.name;
        if (typeof b.announcement === 'string') c.announcement = b.announcement;
        return ok(this.view(c));
      }
    }
    if ((m = /^\/conversations\/([^/]+)\/participants\/(ADD|REMOVE|ROLE)$/.exec(p)) && method === 'POST') {
      const c = this.conversations.get(m[1]!);
      if (!c) return fail(404, 'The endpoint is not found.');
      if (!Array.isArray(body) || !body.every((x) => typeof (x as { user_id?: unknown })?.user_id === 'string')) {
        return this.invalid(p, 'the body must be an array of {user_id}');
      }
      const ids = (body as { user_id: string; role?: string }[]).map((x) => x.user_id);
      const action = m[2]!;
      if (action === 'ROLE') {
        if (c.participants.get(caller) !== 'OWNER') return fail(403, 'Forbidden.');
        for (const x of body as { user_id: string; role?: string }[])
          if (c.participants.has(x.user_id) && x.user_id !== c.creator_id) c.participants.set(x.user_id, x.role === 'ADMIN' ? 'ADMIN' : '');
        return ok(this.view(c));
      }
      if (!this.manager(c, caller)) return fail(403, 'Forbidden.');
      if (action === 'ADD') {
        const fresh = [...new Set(ids)].filter((id) => this.users.has(id) && !c.participants.has(id));
        if (c.participants.size + fresh.length > this.maxMembers) return fail(20116, 'The group chat is full.');
        for (const id of fresh) c.participants.set(id, '');
      } else {
        if (ids.includes(c.creator_id)) return fail(403, 'Forbidden.');
        for (const id of ids) c.participants.delete(id);
      }
      return ok(this.view(c));
    }
    return fail(404, 'The endpoint is not found.');
  }

  /** the JWT of §4.1, or why it is refused */
  private authenticate(req: IncomingMessage, method: string, url: URL, raw: string, requestId: string | undefined): string | string[] {
    const m = /^Bearer ([^.]+)\.([^.]+)\.([^.]+)$/.exec(req.headers.authorization ?? '');
    if (!m) return ['no bearer JWT'];
    let header: { alg?: string };
    let claims: { uid?: string; sid?: string; exp?: number; jti?: string; sig?: string };
    try {
      header = JSON.parse(Buffer.from(m[1]!, 'base64url').toString()) as typeof header;
      claims = JSON.parse(Buffer.from(m[2]!, 'base64url').toString()) as typeof claims;
    } catch {
      return ['the JWT does not decode'];
    }
    if (header.alg !== 'EdDSA') return [`alg ${header.alg} is not EdDSA`];
    const session = claims.sid ? this.sessions.get(claims.sid) : undefined;
    if (!session || session.appId !== claims.uid) return ['unknown session or uid'];
    if (!verify(null, Buffer.from(`${m[1]}.${m[2]}`), session.key, Buffer.from(m[3]!, 'base64url'))) return ['bad signature'];
    if (typeof claims.exp !== 'number' || claims.exp <= Date.now() / 1000) return ['expired'];
    const sig = createHash('sha256')
      .update(method + url.pathname + url.search + raw)
      .digest('hex');
    if (claims.sig !== sig) return ['sig does not match the method, path, query and body'];
    if (!claims.jti || claims.jti !== requestId) return ['jti differs from X-Request-Id'];
    if (this.seenJti.has(claims.jti)) return ['jti reused'];
    this.seenJti.add(claims.jti);
    return session.appId;
  }

  private create(caller: string, body: unknown): Reply {
    const b = (body ?? {}) as { category?: unknown; conversation_id?: unknown; name?: unknown; participants?: unknown; random_id?: unknown };
    if (b.category !== 'GROUP') return this.invalid('/conversations', 'only GROUP conversations are modelled');
    if (typeof b.random_id !== 'string' || !/^[0-9a-f-]{36}$/.test(b.random_id)) return this.invalid('/conversations', 'random_id missing');
    if (typeof b.name !== 'string' || b.name.length > 512) return this.invalid('/conversations', 'name must be a string of at most 512 characters');
    if (!Array.isArray(b.participants) || !b.participants.every((x) => typeof (x as { user_id?: unknown })?.user_id === 'string')) {
      return this.invalid('/conversations', 'participants must be an array of {user_id}');
    }
    const ids = (b.participants as { user_id: string }[]).map((x) => x.user_id);
    let expected = unique(unique(caller, b.name), b.random_id.toLowerCase());
    for (const id of [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))) expected = unique(expected, id);
    if (b.conversation_id !== expected)
      return this.invalid('/conversations', `conversation_id ${String(b.conversation_id)} is not the one derived (${expected})`);
    const existing = this.conversations.get(expected);
    if (existing) return ok(this.view(existing));
    const members = [...new Set(ids)].filter((id) => this.users.has(id) && id !== caller);
    if (members.length + 1 > this.maxMembers) return fail(20116, 'The group chat is full.');
    const c: MixinConversation = {
      conversation_id: expected,
      creator_id: caller,
      category: 'GROUP',
      name: b.name,
      announcement: '',
      random_id: b.random_id,
      participants: new Map([[caller, 'OWNER'], ...members.map((id) => [id, ''] as [string, ''])]),
      created_at: new Date().toISOString(),
    };
    this.conversations.set(c.conversation_id, c);
    return ok(this.view(c));
  }

  private manager(c: MixinConversation, caller: string): boolean {
    const role = c.participants.get(caller);
    return role === 'OWNER' || role === 'ADMIN';
  }

  private invalid(path: string, why: string): Reply {
    this.violations.push(`${path}: ${why}`);
    return fail(10002, why);
  }

  private view(c: MixinConversation) {
    return {
      type: 'conversation',
      conversation_id: c.conversation_id,
      creator_id: c.creator_id,
      category: c.category,
      name: c.name,
      announcement: c.announcement,
      icon_url: '',
      code_id: '',
      code_url: '',
      expire_in: 0,
      mute_until: '0001-01-01T00:00:00Z',
      created_at: c.created_at,
      participants: [...c.participants].map(([user_id, role]) => ({ type: 'participant', user_id, role, created_at: c.created_at })),
      participant_sessions: [],
      circles: [],
    };
  }
}
