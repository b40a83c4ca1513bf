import type { Dispatcher } from 'undici';
import type { HttpAuth } from '../../config/schema.js';
import { AuthError, PermanentError } from '../../errors.js';
import { HttpAuthorizer } from '../../http/auth.js';
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

/**
 * GETs against a SCIM service provider with bearer, basic or OAuth2 client-credentials auth.
 * Transient failures are retried; a 401 renews the OAuth2 token once.
 */
export class ScimClient {
  private readonly auth: HttpAuthorizer;
  private readonly base: string;

  constructor(private readonly opts: ScimClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.auth = new HttpAuthorizer(opts.origin, opts.auth, { timeoutMs: opts.timeoutMs, dispatcher: opts.dispatcher });
  }

  /** GET a path under the base URL; undefined on 404 */
  async get(path: string, query: Record<string, string | number | undefined> = {}, signal?: AbortSignal): Promise<unknown> {
    const url = new URL(this.base + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    return withRetry(
      async () => {
        let res = await this.send(url.toString(), signal);
        if (res.status === 401 && this.auth.renewable) {
          this.auth.invalidate();
          res = await this.send(url.toString(), signal);
        }
        if (res.status === 404) {
          // "no such resource" only as the provider says it (a SCIM error, or nothing): a gateway's or
          // a WAF's own 404 page is no answer about the resource, and must not make it gone
          if (res.text.trim() === '' || isScimError(parseJson(res.text))) return undefined;
          throw new PermanentError(`GET ${path}: answered 404 with a body that is not a SCIM error (not the provider's answer)`, {
            origin: this.opts.origin,
            status: res.status,
            label: 'contract',
          });
        }
        if (res.status !== 200) throw this.error(res, `GET ${path}`);
        const body = parseJson(res.text);
        if (body === undefined) {
          throw new PermanentError(`GET ${path}: the answer is not JSON`, { origin: this.opts.origin, status: res.status, label: 'contract' });
        }
        return body;
      },
      this.opts.retry,
      { signal },
    );
  }

  private async send(url: string, signal?: AbortSignal): Promise<HttpResponse> {
    return httpRequest(this.opts.origin, {
      method: 'GET',
      url,
      headers: { accept: 'application/scim+json, application/json', authorization: await this.auth.header(signal) },
      timeoutMs: this.opts.timeoutMs,
      signal,
      dispatcher: this.opts.dispatcher,
    });
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

/** RFC 7644 §3.12: an error response carries the Error schema or its HTTP status */
function isScimError(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const { schemas, status } = body as { schemas?: unknown; status?: unknown };
  return (Array.isArray(schemas) && schemas.includes('urn:ietf:params:scim:api:messages:2.0:Error')) || String(status) === '404';
}
