import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { wireBackend } from '../../src/backends/wire/index.js';
import type { WireBackendConfig } from '../../src/config/schema.js';
import { WireSandbox } from '../../src/sandbox/wire/server.js';

const logger = pino({ level: 'silent' });
let wire: WireSandbox | undefined;
let proxy: Server | undefined;
afterEach(async () => {
  await wire?.stop();
  await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
  wire = proxy = undefined;
});

/** a slow network in front of Wire: paths matching `slow` answer `ms` late */
async function slowProxy(target: string, slow: Map<string, number>): Promise<string> {
  const to = new URL(target);
  proxy = createServer((req, res) => {
    const ms = [...slow].find(([p]) => req.url!.startsWith(p))?.[1] ?? 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const up = request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        const body: Buffer[] = [];
        r.on('data', (c: Buffer) => body.push(c));
        r.on('end', () =>
          setTimeout(() => {
            res.writeHead(r.statusCode!, r.headers);
            res.end(Buffer.concat(body));
          }, ms),
        );
      });
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}

describe('Wire adapter: an API version turned off while another call renews its token', () => {
  it('no call goes out without a version (/vundefined/…)', async () => {
    wire = await WireSandbox.start({});
    wire.addUser({ email: 'bot@example.com', password: 'bot-password' });
    const people = Array.from({ length: 4 }, (_, i) => wire!.addUser({ name: `p${i}`, handle: `p${i}` }).id);
    const slow = new Map<string, number>();
    const config: WireBackendConfig = {
      type: 'wire',
      conversationType: 'group',
      baseUrl: await slowProxy(wire.url, slow),
      email: 'bot@example.com',
      password: 'bot-password',
      label: 'convsync',
      maxConversationSize: 500,
      apiVersions: { min: 6, max: 15 },
    };
    const backend = wireBackend.create(config, { logger });
    const conv = await backend.create({ name: 'c', members: people.slice(0, 2) });
    const chosen = Math.max(...wire.calls.filter((c) => /^\/v\d+\//.test(c.path)).map((c) => Number(/^\/v(\d+)\//.exec(c.path)![1])));
    // A's token is refused: it renews (slowly); meanwhile the version is turned off and B chooses again (slowly)
    wire.expireTokens();
    slow.set('/access', 300).set('/api-version', 800);
    const a = backend.get(conv.id);
    await sleep(100);
    wire.disableVersions(chosen);
    const b = backend.get(conv.id);
    const [ra, rb] = await Promise.allSettled([a, b]);
    expect(wire.calls.filter((c) => c.path.startsWith('/vundefined'))).toEqual([]);
    expect(ra.status, String((ra as PromiseRejectedResult).reason)).toBe('fulfilled');
    expect(rb.status).toBe('fulfilled');
  });
});
