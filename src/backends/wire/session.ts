import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { WireBackendConfig } from '../../config/schema.js';
import { readSecret } from '../../config/secrets.js';
import { AuthError, PermanentError } from '../../errors.js';
import { headerValue, httpRequest, type HttpResponse } from '../../http/request.js';
import { AccessToken, parseAnswer, VersionInfo, wireError } from './contract.js';

interface Token {
  value: string;
  expiresAt: number;
  lifetimeMs: number;
  user: string;
}

/**
 * A Wire login: API version negotiation, persistent login (the `zuid` cookie), access-token renewal
 * through `/access` before expiry and once on a 401, and a fresh login only when the cookie itself
 * is refused. Concurrent callers share one renewal.
 */
export class WireSession {
  version: number | undefined;
  domain: string | undefined;
  userId: string | undefined;
  private token: Token | undefined;
  private cookie: string | undefined;
  private renewing: Promise<void> | undefined;
  private readonly base: string;

  constructor(
    private readonly config: WireBackendConfig,
    private readonly dispatcher: Dispatcher | undefined,
    private readonly logger: Logger,
    private readonly onResponse?: (status: number) => void,
  ) {
    this.base = config.baseUrl.replace(/\/+$/, '');
  }

  /** a versioned API call (`/vN` + path) with the access token; renews once on 401 */
  async call(method: Dispatcher.HttpMethod, path: string, body?: unknown, signal?: AbortSignal): Promise<HttpResponse> {
    await this.ensureToken(signal);
    const used = this.token;
    let res = await this.send(method, this.versioned(path), body, signal, true);
    if (res.status === 401) {
      this.logger.debug({ path }, 'wire answered 401: renewing the access token once');
      // another request may have renewed it meanwhile: then just retry with the new one
      if (this.token === used) await this.renew(signal);
      res = await this.send(method, this.versioned(path), body, signal, true);
    }
    if (res.status === 401) throw wireError(res, `${method} ${path} after token renewal`);
    return res;
  }

  /** version and domain known, token fresh: ids can be qualified from here on */
  async ready(signal?: AbortSignal): Promise<void> {
    await this.ensureToken(signal);
  }

  async logout(signal?: AbortSignal): Promise<void> {
    if (!this.cookie || !this.token) return;
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
      ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
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
    const usable = info.supported.filter((v) => !development.has(v) && v >= min && v <= max);
    if (usable.length === 0) {
      throw new PermanentError(
        `the Wire backend supports API versions [${info.supported.join(', ')}], none within v${min}–v${max}`,
        { origin: 'wire', label: 'unsupported-version' },
      );
    }
    this.version = Math.max(...usable);
    this.domain = info.domain.toLowerCase();
    this.logger.debug({ version: this.version, domain: this.domain }, 'wire API version chosen');
  }

  private renew(signal: AbortSignal | undefined): Promise<void> {
    this.renewing ??= (async () => {
      try {
        if (this.cookie && (await this.access(signal))) return;
        await this.login(signal);
      } finally {
        this.renewing = undefined;
      }
    })();
    return this.renewing;
  }

  /** POST /access (unversioned): true when renewed, false when the cookie was refused */
  private async access(signal?: AbortSignal): Promise<boolean> {
    const res = await this.send('POST', '/access', undefined, signal, true, true);
    if (res.status === 403) {
      this.logger.info('wire refused the login cookie: logging in again');
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
    const res = await this.send(
      'POST',
      this.versioned('/login?persist=true'),
      { ...who, password, label: this.config.label },
      signal,
      false,
    );
    if (res.status !== 200) throw wireError(res, 'POST /login');
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
      if (m) this.cookie = m[1];
    }
  }
}
