import type { Dispatcher } from 'undici';
import type { HttpAuth } from '../config/schema.js';
import { readSecret } from '../config/secrets.js';
import { AuthError, TransientError } from '../errors.js';
import { errorForStatus, httpRequest, parseJson } from './request.js';

/** an OAuth2 access token, and when to fetch the next one */
type Token = { value: string; renewAt: number };

/**
 * The `Authorization` header for bearer, basic or OAuth2 client-credentials auth. The OAuth2
 * token is fetched when needed (once for the calls made together), renewed 30 s before it expires
 * (half-way through a shorter one), and dropped by `invalidate()` (after a 401) so the next call
 * fetches a new one. Secrets are read from their files at each use.
 */
export class HttpAuthorizer {
  private token: Token | undefined;
  /** the token request in flight: calls made together wait for the one request */
  private fetching: Promise<Token> | undefined;

  constructor(
    private readonly origin: string,
    private readonly auth: HttpAuth,
    private readonly opts: { timeoutMs: number; dispatcher?: Dispatcher },
  ) {}

  get renewable(): boolean {
    return this.auth.type === 'oauth2';
  }

  invalidate(): void {
    this.token = undefined;
  }

  async header(signal?: AbortSignal): Promise<string> {
    const auth = this.auth;
    switch (auth.type) {
      case 'bearer':
        return `Bearer ${this.secret(auth, 'token')}`;
      case 'basic':
        return `Basic ${Buffer.from(`${auth.username}:${this.secret(auth, 'password')}`).toString('base64')}`;
      case 'oauth2':
        if (!this.token || Date.now() > this.token.renewAt) {
          this.fetching ??= this.clientCredentials(auth, signal).finally(() => (this.fetching = undefined));
          this.token = await this.fetching;
        }
        return `Bearer ${this.token.value}`;
    }
  }

  private async clientCredentials(auth: HttpAuth & { type: 'oauth2' }, signal?: AbortSignal): Promise<Token> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (auth.scope) form.set('scope', auth.scope);
    if (auth.audience) form.set('audience', auth.audience);
    const basic = Buffer.from(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(this.secret(auth, 'clientSecret'))}`).toString('base64');
    let res;
    try {
      res = await httpRequest(this.origin, {
        method: 'POST',
        url: auth.tokenUrl,
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
        body: form.toString(),
        timeoutMs: this.opts.timeoutMs,
        signal,
        dispatcher: this.opts.dispatcher,
      });
    } catch (e) {
      throw e instanceof TransientError ? notSent(e) : e;
    }
    const body = parseJson(res.text) as { access_token?: unknown; expires_in?: unknown; error?: unknown } | undefined;
    if (res.status >= 500 || res.status === 429) throw notSent(errorForStatus(this.origin, res, undefined, 'OAuth2 token endpoint') as TransientError);
    if (res.status !== 200 || typeof body?.access_token !== 'string') {
      const why = typeof body?.error === 'string' ? body.error : `HTTP ${res.status}`;
      throw new AuthError(`OAuth2 client-credentials token refused (${why})`, { origin: this.origin, status: res.status });
    }
    const seconds = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600;
    const now = Date.now();
    // renewed 30 s before it expires, or half-way through a token that lives less than a minute
    return { value: body.access_token, renewAt: now + seconds * 1000 - Math.min(30_000, (seconds * 1000) / 2) };
  }

  private secret(holder: object, key: string): string {
    try {
      return readSecret(holder, key);
    } catch (e) {
      throw new AuthError(`cannot read the ${key}: ${(e as Error).message}`, { origin: this.origin });
    }
  }
}

/**
 * A failed token request is never a lost answer of the call it was for: that call was not sent.
 * Transient still (retried), but not ambiguous, so a create is not looked for as if it had been made.
 */
function notSent(e: TransientError): TransientError {
  return new TransientError(e.message.startsWith('OAuth2') ? e.message : `OAuth2 token endpoint: ${e.message}`, {
    origin: e.origin,
    ...(e.status !== undefined ? { status: e.status } : {}),
    ...(e.label !== undefined ? { label: e.label } : {}),
    ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}),
    throttled: e.throttled,
    ambiguous: false,
    cause: e,
  });
}
