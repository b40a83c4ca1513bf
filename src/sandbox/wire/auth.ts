/**
 * Credentials in the Wire fake: password login (with SSO users, 2FA and the per-user password rate
 * limit), access tokens, `zuid` cookies and their renewal through `/access`, and team apps with
 * their persistent cookies ([WS] Brig.User.Auth, AuthenticationSubsystem, AppSubsystem).
 */

import type { IncomingMessage } from 'node:http';
import { randomBytes, randomInt } from 'node:crypto';
import { randomUuid } from '../random.js';
import { badRequest, fail, isObject, parseBody, Reply } from './http.js';
import { TEAM_PERMS, type FakeCookie, type FakeUser, type WireWorld } from './state.js';

const PERSISTENT_TTL = 4_838_400;
const SESSION_TTL = 86_400;

const invalidCredentials = (message = 'Authentication failed'): Reply => fail(403, 'invalid-credentials', message);
const appNoPermission = (): Reply => fail(403, 'app-no-permission', 'User does not have permission to create or manage apps');

export interface AccessTokenBody {
  user: string;
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

export class Auth {
  /** password checks left per user: a bucket refilled by one every `loginRefillSeconds` */
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  /** 2FA codes sent (by the test hook) and not used yet, by user id */
  private readonly pendingCodes = new Map<string, string>();

  constructor(
    private readonly w: WireWorld,
    /** what a user or app looks like to others (`UserProfile`) */
    private readonly profile: (u: FakeUser) => unknown,
  ) {}

  authenticate(req: IncomingMessage): FakeUser | undefined {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const token = m ? this.w.tokens.get(m[1]!) : undefined;
    if (!token || token.expiresAt <= Date.now()) return undefined;
    return this.w.users.get(token.user);
  }

  private issueToken(user: string): AccessTokenBody {
    const value = randomBytes(24).toString('base64url');
    const lifetime = this.w.faults.tokenLifetimeSeconds;
    this.w.tokens.set(value, { value, user, expiresAt: Date.now() + lifetime * 1000 });
    return { user, access_token: value, token_type: 'Bearer', expires_in: lifetime };
  }

  /** a new cookie; answers its value */
  private newCookie(user: string, label: string | null, persistent: boolean): string {
    const value = randomBytes(24).toString('base64url');
    const ttl = persistent ? PERSISTENT_TTL : SESSION_TTL;
    this.w.cookies.set(value, { value, user, label, persistent, expiresAt: Date.now() + ttl * 1000, revoked: false });
    return value;
  }

  /** a new cookie as the `Set-Cookie` header brig sends */
  private setCookie(user: string, label: string | null, persistent: boolean): string {
    const value = this.newCookie(user, label, persistent);
    const expires = persistent ? `; Expires=${new Date(Date.now() + PERSISTENT_TTL * 1000).toUTCString()}` : '';
    return `zuid=${value}; Path=/access${expires}; HttpOnly; Secure`;
  }

  revokeAll(user: string): void {
    for (const c of this.w.cookies.values()) if (c.user === user) c.revoked = true;
  }

  /**
   * One password check against the per-user limit ([WS] RateLimitUser, `passwordHashingRateLimit`):
   * a 429 `too-many-requests` with Retry-After when the bucket is empty.
   */
  private rateLimited(user: string): Reply | undefined {
    const { loginBurst: burst, loginRefillSeconds: refill } = this.w.faults;
    if (!Number.isFinite(burst)) return undefined;
    const now = Date.now();
    const refillMs = Math.max(refill, 0.001) * 1000;
    const b = this.buckets.get(user) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + (now - b.at) / refillMs);
    b.at = now;
    this.buckets.set(user, b);
    if (b.tokens < 1) {
      const wait = Math.max(1, Math.ceil(((1 - b.tokens) * refillMs) / 1000));
      return fail(429, 'too-many-requests', 'Please try again later.', { 'retry-after': String(wait) });
    }
    b.tokens -= 1;
    return undefined;
  }

  /** checks `password` against the user's; a user without one never passes */
  private checkPassword(user: FakeUser, password: string): Reply | 'ok' | 'wrong' {
    if (user.password === undefined) return 'wrong';
    const limited = this.rateLimited(user.id);
    if (limited) return limited;
    return user.password === password ? 'ok' : 'wrong';
  }

  /** `POST /login` ([WS] login: resolve, password under the rate limit, then the 2FA code) */
  login(url: URL, raw: string): Reply {
    const b = parseBody(raw);
    if (!isObject(b)) return badRequest('Error in $: expected Object');
    if (typeof b.password !== 'string' || b.password.length < 6) return badRequest('Error in $.password: expected PlainTextPassword6');
    if (typeof b.email !== 'string' && typeof b.handle !== 'string') return badRequest("Error in $: 'email' or 'handle' required");
    if (b.verification_code !== undefined && b.verification_code !== null && typeof b.verification_code !== 'string') {
      return badRequest('Error in $.verification_code: expected String');
    }
    const label = typeof b.label === 'string' ? b.label : null;
    const user = [...this.w.users.values()].find((u) => (typeof b.email === 'string' ? u.email === b.email : u.handle === b.handle));
    if (!user) return invalidCredentials();
    // a user without a password (SSO-provisioned, an app): `Just (Nothing, _) -> AuthInvalidCredentials`
    const checked = this.checkPassword(user, b.password);
    if (checked instanceof Reply) return checked;
    if (checked === 'wrong') return invalidCredentials();
    // 2FA: required when the team's feature is on, except for SSO users ([WS] enforceVerificationCode)
    if (this.w.features.sndFactorPasswordChallenge && user.team !== undefined && !user.sso) {
      if (typeof b.verification_code !== 'string') return fail(403, 'code-authentication-required', 'Code authentication is required');
      if (this.pendingCodes.get(user.id) !== b.verification_code) return fail(403, 'code-authentication-failed', 'Code authentication failed');
      this.pendingCodes.delete(user.id);
    }
    const persist = url.searchParams.get('persist') === 'true';
    this.w.logins.push({ persist, label });
    // a new login revokes the user's older cookies with the same label
    for (const c of this.w.cookies.values()) if (c.user === user.id && c.label === label) c.revoked = true;
    return new Reply(200, this.issueToken(user.id), { 'set-cookie': this.setCookie(user.id, label, persist) });
  }

  /** a 2FA code "sent by email" for the next login of `userId` (test hook) */
  verificationCode(userId: string): string {
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    this.pendingCodes.set(userId, code);
    return code;
  }

  private cookieOf(req: IncomingMessage): FakeCookie | 'missing' | 'invalid' | 'expired' {
    const values = [...(req.headers.cookie ?? '').matchAll(/(?:^|;\s*)zuid=([^;]+)/g)].map((x) => x[1]!);
    if (values.length === 0) return 'missing';
    const valid = values.map((v) => this.w.cookies.get(v)).filter((c): c is FakeCookie => c !== undefined && !c.revoked);
    if (valid.length === 0) return 'invalid';
    const fresh = valid.find((c) => c.expiresAt > Date.now());
    return fresh ?? 'expired';
  }

  /** `POST /access`: a user's or an app's cookie for a new access token; Set-Cookie only when renewed */
  access(req: IncomingMessage): Reply {
    const cookie = this.cookieOf(req);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (cookie === 'missing') return invalidCredentials(bearer ? 'Missing cookie' : 'Missing cookie and token');
    if (cookie === 'invalid') return invalidCredentials('Invalid zauth token');
    if (cookie === 'expired') return invalidCredentials('Zauth token expired');
    if (bearer) {
      // the old token may be expired, but it must be one we issued, for the same user
      const old = this.w.tokens.get(bearer[1]!);
      if (!old || old.user !== cookie.user) return invalidCredentials('Invalid zauth token');
    }
    const headers: Record<string, string> = {};
    if (this.w.faults.renewCookieOnAccess && cookie.persistent) headers['set-cookie'] = this.setCookie(cookie.user, cookie.label, true);
    return new Reply(200, this.issueToken(cookie.user), headers);
  }

  logout(req: IncomingMessage): Reply {
    const cookie = this.cookieOf(req);
    if (!/^Bearer /.test(req.headers.authorization ?? '')) return invalidCredentials('Missing token');
    if (typeof cookie === 'string') return invalidCredentials('Invalid zauth token');
    cookie.revoked = true;
    return new Reply(200);
  }

  // ---- team apps (v12+) -----------------------------------------------------------------------

  /** a team app: a team member with role member, no password, no email; answers it and its cookie */
  makeApp(name: string, category: string, description: string, team: string): { user: FakeUser; cookie: string } {
    const user: FakeUser = {
      id: randomUuid(this.w.random),
      name,
      team,
      role: 'member',
      searchable: true,
      type: 'app',
      supportedProtocols: ['mls'],
      app: { category, description },
    };
    this.w.users.set(user.id, user);
    return { user, cookie: this.newCookie(user.id, null, true) };
  }

  /** revokes every cookie of the app and answers a new persistent one */
  renewAppCookie(appId: string): string {
    this.revokeAll(appId);
    return this.newCookie(appId, null, true);
  }

  /** `POST /teams/{tid}/apps` ([WS] createAppImpl: the admin's password, then CreateApp) */
  createApp(caller: FakeUser, tid: string, b: unknown): Reply {
    if (!isObject(b)) return badRequest('Error in $: expected Object');
    if (typeof b.name !== 'string' || b.name.length < 1 || b.name.length > 128) return badRequest('Error in $.name: expected a string of 1..128 characters');
    if (typeof b.category !== 'string') return badRequest('Error in $: key "category" not found');
    if (typeof b.description !== 'string' || b.description.length > 300) return badRequest('Error in $.description: expected a string of 0..300 characters');
    if (typeof b.password !== 'string' || b.password.length < 6 || b.password.length > 1024)
      return badRequest('Error in $.password: expected PlainTextPassword6');
    if (b.assets !== undefined && !Array.isArray(b.assets)) return badRequest('Error in $.assets: expected Array');
    if (b.accent_id !== undefined && !Number.isInteger(b.accent_id)) return badRequest('Error in $.accent_id: expected Int32');
    const checked = this.checkPassword(caller, b.password);
    if (checked instanceof Reply) return checked;
    if (checked === 'wrong') return invalidCredentials();
    if (caller.team !== tid || !TEAM_PERMS[caller.role].has('CreateApp')) return appNoPermission();
    const { user, cookie } = this.makeApp(b.name, b.category, b.description, tid);
    return new Reply(200, { user: this.profile(user), cookie });
  }

  /**
   * `POST /teams/{tid}/apps/{app}/cookies` ([WS] refreshAppCookieImpl, 5.29): re-authenticates the
   * admin (its password, unless it has none), needs ManageApps, revokes all the app's cookies.
   */
  refreshAppCookie(caller: FakeUser, tid: string, appId: string, b: unknown): Reply {
    if (!isObject(b)) return badRequest('Error in $: expected Object');
    if (b.password !== undefined && b.password !== null && (typeof b.password !== 'string' || b.password.length < 6)) {
      return badRequest('Error in $.password: expected PlainTextPassword6');
    }
    const password = typeof b.password === 'string' ? b.password : undefined;
    if (caller.password !== undefined) {
      if (password === undefined) return appNoPermission(); // ReAuthMissingPassword
      const checked = this.checkPassword(caller, password);
      if (checked instanceof Reply) return checked;
      if (checked === 'wrong') return appNoPermission();
    } else if (password !== undefined) {
      return appNoPermission();
    }
    if (caller.team !== tid || !TEAM_PERMS[caller.role].has('ManageApps')) return appNoPermission();
    const app = this.w.users.get(appId);
    if (!app || app.type !== 'app' || app.team !== tid) return fail(404, 'app-not-found', 'App not found');
    return new Reply(200, { cookie: this.renewAppCookie(appId) });
  }
}
