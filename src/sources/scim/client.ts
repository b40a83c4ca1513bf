import type { Dispatcher } from 'undici';
import type { HttpAuth } from '../../config/schema.js';
import { readSecret } from '../../config/secrets.js';
import { AuthError, PermanentError } from '../../errors.js';
import { errorForStatus, httpRequest, parseJson, type HttpResponse } from '../../http/request.js';
import { withRetry, type RetryPolicy } from '../../http/retry.js';

export interface ScimClientOptions {
  origin: string;
  baseUrl: string;
  auth: HttpAuth;
  timeoutMs: number;
  retry: RetryPolicy;
  dispatcher?: Dispatcher;
}

interface OAuthToken {
  value: string;
  expiresAt: number;
}

/**
 * GETs against a SCIM service provider with bearer, basic or OAuth2 client-credentials auth.
 * Transient failures are retried; a 401 renews the OAuth2 token once.
 */
export class ScimClient {
  private token: OAuthToken | undefined;
  private readonly base: string;

  constructor(private readonly opts: ScimClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
  }

  /** GET a path under the base URL; undefined on 404 */
  async get(path: string, query: Record<string, string | number | undefined> = {}, signal?: AbortSignal): Promise<unknown> {
    const url = new URL(this.base + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    return withRetry(
      async () => {
        let res = await this.send(url.toString(), signal);
        if (res.status === 401 && this.opts.auth.type === 'oauth2') {
          this.token = undefined;
          res = await this.send(url.toString(), signal);
        }
        if (res.status === 404) return undefined;
        if (res.status !== 200) throw this.error(res, `GET ${path}`);
        const body = parseJson(res.text);
        if (body === undefined) {
          throw new PermanentError(`GET ${path}: the answer is not JSON`, { origin: this.opts.origin, status: res.status, label: 'contract' });
        }
        return body;
      },
      this.opts.retry,
      signal ? { signal } : {},
    );
  }

  private async send(url: string, signal?: AbortSignal): Promise<HttpResponse> {
    return httpRequest(this.opts.origin, {
      method: 'GET',
      url,
      headers: { accept: 'application/scim+json, application/json', authorization: await this.authorization(signal) },
      timeoutMs: this.opts.timeoutMs,
      ...(signal ? { signal } : {}),
      ...(this.opts.dispatcher ? { dispatcher: this.opts.dispatcher } : {}),
    });
  }

  private async authorization(signal?: AbortSignal): Promise<string> {
    const auth = this.opts.auth;
    switch (auth.type) {
      case 'bearer':
        return `Bearer ${this.secret(auth, 'token')}`;
      case 'basic':
        return `Basic ${Buffer.from(`${auth.username}:${this.secret(auth, 'password')}`).toString('base64')}`;
      case 'oauth2':
        if (!this.token || Date.now() > this.token.expiresAt - 30_000) this.token = await this.clientCredentials(auth, signal);
        return `Bearer ${this.token.value}`;
    }
  }

  private async clientCredentials(auth: HttpAuth & { type: 'oauth2' }, signal?: AbortSignal): Promise<OAuthToken> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (auth.scope) form.set('scope', auth.scope);
    if (auth.audience) form.set('audience', auth.audience);
    const basic = Buffer.from(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(this.secret(auth, 'clientSecret'))}`).toString('base64');
    const res = await httpRequest(this.opts.origin, {
      method: 'POST',
      url: auth.tokenUrl,
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
      body: form.toString(),
      timeoutMs: this.opts.timeoutMs,
      ...(signal ? { signal } : {}),
      ...(this.opts.dispatcher ? { dispatcher: this.opts.dispatcher } : {}),
    });
    const body = parseJson(res.text) as { access_token?: unknown; expires_in?: unknown; error?: unknown } | undefined;
    if (res.status >= 500 || res.status === 429) throw errorForStatus(this.opts.origin, res, undefined, 'OAuth2 token endpoint');
    if (res.status !== 200 || typeof body?.access_token !== 'string') {
      const why = typeof body?.error === 'string' ? body.error : `HTTP ${res.status}`;
      throw new AuthError(`OAuth2 client-credentials token refused (${why})`, { origin: this.opts.origin, status: res.status });
    }
    const seconds = typeof body.expires_in === 'number' ? body.expires_in : 3600;
    return { value: body.access_token, expiresAt: Date.now() + seconds * 1000 };
  }

  private secret(holder: object, key: string): string {
    try {
      return readSecret(holder, key);
    } catch (e) {
      throw new AuthError(`cannot read the ${key}: ${(e as Error).message}`, { origin: this.opts.origin });
    }
  }

  private error(res: HttpResponse, what: string) {
    const body = parseJson(res.text) as { detail?: unknown; scimType?: unknown } | undefined;
    const detail = typeof body?.detail === 'string' ? body.detail : `HTTP ${res.status}`;
    const label = typeof body?.scimType === 'string' ? body.scimType : undefined;
    if (res.status === 401 || res.status === 403) {
      return new AuthError(`${what}: ${detail}`, { origin: this.opts.origin, status: res.status, ...(label ? { label } : {}) });
    }
    return errorForStatus(this.opts.origin, res, label, `${what}: ${detail}`);
  }
}
