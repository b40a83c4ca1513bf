import { request } from 'undici';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** one raw request to a sandbox: status, parsed JSON (when it is JSON), text and headers; a dropped connection is status 0 */
export async function rawCall(base: string, method: Method, path: string, body?: unknown, token?: string | null, headers: Record<string, string> = {}) {
  try {
    const res = await request(base + path, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, json, text, headers: res.headers };
  } catch (e) {
    return { status: 0, json: undefined as any, text: String(e), headers: {} as Record<string, string | string[] | undefined> };
  }
}
