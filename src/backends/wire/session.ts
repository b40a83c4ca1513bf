import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { WireBackendConfig } from '../../config/schema.js';
import { readSecret } from '../../config/secrets.js';
import { AuthError, PermanentError } from '../../errors.js';
import type { CredentialStore } from '../types.js';
import { headerValue, httpRequest, type HttpResponse } from '../../http/request.js';
import { AccessToken, isUnsupportedVersion, parseAnswer, VersionInfo, wireError } from './contract.js';

interface Token {
  value: string;
  expiresAt: number;
  lifetimeMs: number;
  user: string;
}

/** where the renewed cookie is kept: the cookie file may be a read-only secret mount */
const COOKIE = 'wire-cookie';

/**
 * A Wire login: API version negotiation, persistent login (the `zuid` cookie), access-token renewal
 * through `/access` before expiry and once on a 401, and a fresh login only when the cookie itself
 * is refused. With `cookieFile` (a team app's cookie) there is no login at all: only `/access`, and
 * every cookie Wire sends back is kept in the store, the newest used. Concurrent callers share one
 * renewal.
 */
export class WireSession {
  version: number | undefined;
  domain: string | undefined;
  userId: string | undefined;
  private token: Token | undefined;
  private cookie: string | undefined;
  /** which cookie file the app cookie came from (its digest), kept with every renewed cookie */
  private cookieOrigin: string | undefined;
  private renewing: Promise<void> | undefined;
  /** a version being chosen again (the one chosen was turned off) */
  private choosing: Promise<void> | undefined;
  private readonly base: string;

  constructor(
    private readonly config: WireBackendConfig,
    private readonly dispatcher: Dispatcher | undefined,
    private readonly logger: Logger,
    private readonly onResponse?: (status: number) => void,
    private readonly credentials?: CredentialStore,
  ) {
    this.base = config.baseUrl.replace(/\/+$/, '');
  }

  /** a team app's cookie from `cookieFile`, unless the store holds a newer one renewed from that same file */
  private appCookie(): { value: string; origin: string } {
    let text: string;
    try {
      text = readFileSync(this.config.cookieFile!, 'utf8').trim();
    } catch (e) {
      throw new AuthError(`cannot read backend.cookieFile: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { origin: 'wire' });
    }
    const value = /(?:^|;\s*)zuid=([^;\s]+)/.exec(text)?.[1] ?? text;
    if (!value) throw new AuthError('backend.cookieFile is empty: put the cookie Wire gave when the app was created in it', { origin: 'wire' });
    const origin = createHash('sha256').update(value).digest('hex').slice(0, 16);
    const kept = this.credentials?.get(COOKIE);
    // a different file means the operator issued a new cookie: it wins over what was renewed before
    return kept && kept.origin === origin ? kept : { value, origin };
  }

  /** a versioned API call (`/vN` + path) with the access token; renews once on 401 */
  async call(method: Dispatcher.HttpMethod, path: string, body?: unknown, signal?: AbortSignal): Promise<HttpResponse> {
    let chosenAgain = false;
    let renewed = false;
    for (;;) {
      await this.ensureToken(signal);
      const used = this.token;
      const sentWith = this.version;
      const res = await this.send(method, this.versioned(path), body, signal, true);
      if (res.status === 404 && !chosenAgain && isUnsupportedVersion(res)) {
        // turned off since it was chosen (an upgrade of the backend, its disabledAPIVersions): chosen again, once
        // (by one call for all; the version is never unset meanwhile: a call in flight would send /vundefined)
        chosenAgain = true;
        if (this.version === sentWith) {
          this.logger.info({ version: this.version }, 'wire no longer serves this API version: choosing again');
          this.choosing ??= this.negotiate(signal).finally(() => (this.choosing = undefined));
          await this.choosing;
        }
        continue;
      }
      if (res.status === 401 && !renewed) {
        this.logger.debug({ path }, 'wire answered 401: renewing the access token once');
        renewed = true;
        // another request may have renewed it meanwhile: then just retry with the new one
        if (this.token === used) await this.renew(signal);
        continue;
      }
      if (res.status === 401) throw wireError(res, `${method} ${path} after token renewal`);
      return res;
    }
  }

  /** version and domain known, token fresh: ids can be qualified from here on */
  async ready(signal?: AbortSignal): Promise<void> {
    await this.ensureToken(signal);
  }

  /** a password login's cookie is given back; an app's cookie is kept (a logout would revoke it) */
  async logout(signal?: AbortSignal): Promise<void> {
    if (!this.cookie || !this.token || this.config.cookieFile !== undefined) return;
    const res = await this.send('POST', '/access/logout', undefined, signal, true, true);
    if (res.status !== 200) this.logger.warn({ status: res.status }, 'wire logout was refused');
    this.cookie = undefined;
    this.token = undefined;
  }

  private versioned(path: string): string {
    return `/v${this.version}${path}`;
  }

  private async send(
    method: Dispatcher.HttpMethod,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    withToken: boolean,
    withCookie = false,
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = {};
    if (withToken && this.token) headers.authorization = `Bearer ${this.token.value}`;
    if (withCookie && this.cookie) headers.cookie = `zuid=${this.cookie}`;
    const res = await httpRequest('wire', {
      method,
      url: this.base + path,
      headers,
      body,
      signal,
      dispatcher: this.dispatcher,
    });
    this.onResponse?.(res.status);
    return res;
  }

  private async ensureToken(signal?: AbortSignal): Promise<void> {
    if (this.version === undefined) await this.negotiate(signal);
    const t = this.token;
    // renew ahead of expiry: at 80 % of the lifetime, and never later than 60 s before it
    if (!t || Date.now() >= t.expiresAt - Math.min(60_000, t.lifetimeMs * 0.2)) await this.renew(signal);
  }

  private async negotiate(signal?: AbortSignal): Promise<void> {
    const res = await this.send('GET', '/api-version', undefined, signal, false);
    if (res.status !== 200) throw wireError(res, 'GET /api-version');
    const info = parseAnswer(VersionInfo, res, 'GET /api-version');
    const development = new Set(info.development ?? []);
    const { min, max } = this.config.apiVersions;
    // a development version changes without notice: used only when the operator names it as max
    const usable = [...info.supported.filter((v) => !development.has(v)), ...[...development].filter((v) => v === max)].filter((v) => v >= min && v <= max);
    if (usable.length === 0) {
      throw new PermanentError(`the Wire backend supports API versions [${info.supported.join(', ')}], none within v${min}–v${max}`, {
        origin: 'wire',
        label: 'unsupported-version',
      });
    }
    this.version = Math.max(...usable);
    this.domain = info.domain.toLowerCase();
    this.logger.debug({ version: this.version, domain: this.domain }, 'wire API version chosen');
  }

  private renew(signal: AbortSignal | undefined): Promise<void> {
    this.renewing ??= (async () => {
      try {
        if (this.config.cookieFile !== undefined) return await this.renewAppCookie(signal);
        if (this.cookie && (await this.access(signal))) return;
        await this.login(signal);
      } finally {
        this.renewing = undefined;
      }
    })();
    return this.renewing;
  }

  /** an app never logs in: a refused cookie needs a new one from a team admin */
  private async renewAppCookie(signal: AbortSignal | undefined): Promise<void> {
    if (!this.cookie) {
      const app = this.appCookie();
      this.cookie = app.value;
      this.cookieOrigin = app.origin;
    }
    if (await this.access(signal)) return;
    throw new AuthError(
      'Wire refused the cookie in backend.cookieFile (revoked, expired, or replaced by a newer one): a team admin issues a new one ' +
        '(POST /teams/{team}/apps/{app}/cookies, or the team settings) and puts it in backend.cookieFile',
      { origin: 'wire', status: 403, label: 'invalid-credentials' },
    );
  }

  /** POST /access (unversioned): true when renewed, false when the cookie was refused */
  private async access(signal?: AbortSignal): Promise<boolean> {
    const res = await this.send('POST', '/access', undefined, signal, true, true);
    if (res.status === 403) {
      this.logger.info(this.config.cookieFile === undefined ? 'wire refused the login cookie: logging in again' : 'wire refused the app cookie');
      this.cookie = undefined;
      return false;
    }
    if (res.status !== 200) throw wireError(res, 'POST /access');
    this.takeToken(res, 'POST /access');
    return true;
  }

  private async login(signal?: AbortSignal): Promise<void> {
    const who = this.config.email !== undefined ? { email: this.config.email } : { handle: this.config.handle };
    let password: string;
    try {
      password = readSecret(this.config, 'password');
    } catch (e) {
      throw new AuthError(`cannot read the Wire password: ${(e as Error).message}`, { origin: 'wire' });
    }
    const res = await this.send('POST', this.versioned('/login?persist=true'), { ...who, password, label: this.config.label }, signal, false);
    if (res.status !== 200) throw loginError(res, this.config.cookieFile === undefined);
    this.takeToken(res, 'POST /login');
    if (!this.cookie) {
      throw new PermanentError('POST /login: no zuid cookie in the answer (outside the Wire contract)', {
        origin: 'wire',
        status: res.status,
        label: 'contract',
      });
    }
    this.logger.info({ user: this.userId, version: this.version }, 'logged in to wire');
  }

  private takeToken(res: HttpResponse, what: string): void {
    const t = parseAnswer(AccessToken, res, what);
    const lifetimeMs = t.expires_in * 1000;
    this.token = { value: t.access_token, expiresAt: Date.now() + lifetimeMs, lifetimeMs, user: t.user };
    this.userId = t.user;
    // /access sends a new cookie only when it renewed it; the new one replaces the old
    for (const line of headerValue(res.headers, 'set-cookie')) {
      const m = /(?:^|;\s*)zuid=([^;]+)/.exec(line);
      if (!m || m[1] === this.cookie) continue;
      this.cookie = m[1];
      // a renewed app cookie replaces the old one, which Wire may revoke: kept before it is relied on
      if (this.cookieOrigin !== undefined) this.credentials?.put(COOKIE, m[1]!, this.cookieOrigin);
    }
  }
}

/** what a refused password login means for the operator */
function loginError(res: HttpResponse, byPassword: boolean): Error {
  const err = wireError(res, 'POST /login');
  const label = (err as { label?: string }).label;
  if (!byPassword) return err;
  if (label === 'code-authentication-required' || label === 'code-authentication-failed') {
    return new AuthError(
      "POST /login: the team requires a second factor (2FA) for password logins, which a daemon cannot give: use a team app's cookie (backend.cookieFile) instead",
      { origin: 'wire', status: res.status, label },
    );
  }
  if (label === 'invalid-credentials') {
    return new AuthError(
      'POST /login: invalid credentials. Check backend.email/handle and the password; an account that signs in through SSO has no password: use a team app (backend.cookieFile) instead',
      { origin: 'wire', status: res.status, label },
    );
  }
  return err;
}
