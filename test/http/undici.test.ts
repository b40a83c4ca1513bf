import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../../src/http/undici.js';

let url: string;
const server = createServer((req, res) => res.end(JSON.stringify({ method: req.method, url: req.url })));
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('request (undici without its index)', () => {
  it('sends the path and query of the URL on the dispatcher given', async () => {
    const agent = new Agent();
    const res = await request(`${url}/v1/groups%20x?a=1&b=%2F`, { method: 'GET', dispatcher: agent });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ method: 'GET', url: '/v1/groups%20x?a=1&b=%2F' });
    await agent.close();
  });

  it('works with a dispatcher that only dispatches, as a global one from another copy of undici may', async () => {
    const agent = new Agent();
    const bare = { dispatch: (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) => agent.dispatch(opts, handler) };
    const res = await request(`${url}/x`, { method: 'POST', body: '{}', dispatcher: bare as unknown as Dispatcher });
    expect(await res.body.json()).toEqual({ method: 'POST', url: '/x' });
    await agent.close();
  });
});
