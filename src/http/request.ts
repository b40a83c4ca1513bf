import type { Dispatcher } from 'undici';
import { PermanentError, TransientError, type SyncError } from '../errors.js';
import { defaultDispatcher } from './dispatcher.js';
import { request } from './undici.js';

export interface HttpRequest {
  method: Dispatcher.HttpMethod;
  url: string;
  headers?: Record<string, string>;
  /** serialised as JSON unless it is already a string */
  body?: unknown;
  timeoutMs?: number;
  signal?: AbortSignal;
  dispatcher?: Dispatcher;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** failures that happen before a request can reach the server: nothing was applied */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * One HTTP exchange. Network failures and timeouts become TransientError tagged with `origin`;
 * any status is returned for the caller to judge, because only the adapter knows its API's labels.
 */
export async function httpRequest(origin: string, req: HttpRequest): Promise<HttpResponse> {
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  let body: string | undefined;
  if (req.body !== undefined) {
    body = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    headers['content-type'] ??= 'application/json';
  }
  const timeoutMs = req.timeoutMs ?? 30_000;
  const signals = [AbortSignal.timeout(timeoutMs), ...(req.signal ? [req.signal] : [])];
  try {
    const res = await request(req.url, {
      method: req.method,
      headers,
      body,
      signal: AbortSignal.any(signals),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      // not undici's global Agent: ours does not reuse a connection idle past the server's keep-alive
      dispatcher: req.dispatcher ?? defaultDispatcher(),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  } catch (e) {
    if (req.signal?.aborted) throw e;
    const err = e as NodeJS.ErrnoException;
    const what = err.name === 'TimeoutError' || err.name === 'AbortError' ? `timed out after ${timeoutMs} ms` : (err.code ?? err.message);
    throw new TransientError(`${req.method} ${pathOf(req.url)}: ${what}`, { origin, cause: e, ambiguous: !NOT_SENT.has(err.code ?? '') });
  }
}

export function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Retry-After as seconds or an HTTP date, in ms */
export function retryAfterMs(headers: HttpResponse['headers']): number | undefined {
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * The generic reading of a failed status: throttling and server trouble are transient, anything
 * else is a contract error of this one request. Adapters refine it with their own labels.
 */
export function errorForStatus(origin: string, res: HttpResponse, label: string | undefined, message: string): SyncError {
  const details = { origin, status: res.status, label, retryAfterMs: retryAfterMs(res.headers) };
  if (res.status === 420 || res.status === 429) return new TransientError(message || 'throttled', { ...details, throttled: true });
  // a gateway's 502/504 (or any 5xx) may come after the change was made
  if (res.status === 408 || res.status >= 500) return new TransientError(message || `server error ${res.status}`, { ...details, ambiguous: res.status >= 500 });
  return new PermanentError(message || `HTTP ${res.status}`, details);
}

export function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname + (u.search ? '?…' : '');
  } catch {
    return url;
  }
}

/** a URL as errors show it: a key in its query or its user info stays out of logs */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${pathOf(url)}`;
  } catch {
    return '(a URL that does not parse)';
  }
}

export function headerValue(headers: HttpResponse['headers'], name: string): string[] {
  const raw = headers[name];
  return raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
}
