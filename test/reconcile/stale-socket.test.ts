import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { wireBackend } from '../../src/backends/wire/index.js';
import { FreshConnections } from '../../src/http/dispatcher.js';
import type { PlanOp } from '../../src/plan/types.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { WireSandbox } from '../../src/sandbox/wire/server.js';
import { Store } from '../../src/store/store.js';
import { planOf } from '../helpers/plan.js';

const logger = pino({ level: 'silent' });
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop();
});

/** what a plan of 30k groups does to the event loop: no timer, no I/O callback runs meanwhile */
function blockEventLoop(ms: number): void {
  const start = Date.now();
  while (Date.now() - start < ms) {
    // busy on purpose
  }
}

const create = (key: string, members: string[]): PlanOp => ({
  op: 'create',
  key,
  name: key,
  members,
  groups: [`corp:${key}`],
  onGroupRemoved: 'keep',
  reason: 'test',
});

/**
 * The sandbox keeps an idle connection 3 s and says so (`Keep-Alive: timeout=3`): the shortest for
 * which undici reuses a connection at all (the hint less its 2 s threshold must be above 0).
 */
const SERVER_KEEP_ALIVE_MS = 3_000;

async function wireWithReconciler() {
  const wire = await WireSandbox.start();
  cleanup.push(() => wire.stop());
  const server = (wire as unknown as { server: Server }).server;
  server.keepAliveTimeout = SERVER_KEEP_ALIVE_MS;
  const connections = { opened: 0 };
  server.on('connection', () => connections.opened++);
  wire.addUser({ email: 'bot@example.com', password: 'bot-password' });
  const people = Array.from({ length: 2 }, () => wire.addUser({}).id);
  const backend = wireBackend.create(
    {
      type: 'wire',
      conversationType: 'group',
      baseUrl: wire.url,
      email: 'bot@example.com',
      password: 'bot-password',
      label: 'convsync',
      maxConversationSize: 500,
      apiVersions: { min: 6, max: 9 },
    },
    { logger },
  );
  const store = Store.open(':memory:');
  const options = {
    dryRun: false,
    ownerId: 'convsync',
    concurrency: 1,
    ratePerSecond: 1000,
    burst: 100,
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
    logger,
  };
  const reconciler = new Reconciler(store, backend, options);
  return { wire, people, store, reconciler, connections };
}

describe('a connection the server closed while the event loop was blocked', () => {
  it('is not reused: the first create after a long synchronous stage reaches the server, and a really lost answer is looked for, not sent again', async () => {
    const { wire, people, store, reconciler, connections } = await wireWithReconciler();
    await reconciler.whoami(); // leaves pooled keep-alive connections
    const before = connections.opened;

    // longer than the server keeps the connection; its close is only processed after this
    blockEventLoop(SERVER_KEEP_ALIVE_MS * 1.5);
    // the first create that reaches the server loses its answer for real (applied, connection reset)
    wire.loseResponses({ method: 'POST', path: '/v9/conversations', as: 'drop' });
    const res = await reconciler.apply(planOf([create('a', [people[0]!]), create('b', [people[1]!])]), store.runs.start('sync'));

    // before the fix 'a' went out on the closed connection and never reached the server: `answer
    // lost (wire: POST /v9/conversations: ECONNRESET), nothing found yet; left pending`
    expect(connections.opened).toBeGreaterThan(before);
    expect(res.failed).toEqual([]);
    expect(res.doneByOp).toEqual({ create: 2 });
    // the really lost answer was resolved by looking, not by sending the create again
    expect(wire.lost.map((l) => l.path)).toEqual(['/v9/conversations']);
    expect(wire.calls.filter((c) => c.method === 'POST' && c.path === '/v9/conversations')).toHaveLength(2);
    expect(wire.conversations.size).toBe(2);
    expect(store.journal.pendingRows()).toEqual([]);
    expect(
      store
        .loadSnapshot()
        .conversations.map((c) => c.key)
        .sort(),
    ).toEqual(['a', 'b']);
  });
});

describe('FreshConnections', () => {
  /** a loopback server that says it keeps connections 5 s (undici keeps them 5 − 2 = 3 s) and may hold an answer */
  async function server() {
    const held: ServerResponse[] = [];
    const s = createServer((req, res) => {
      req.resume();
      req.on('end', () => (req.url === '/hold' ? held.push(res) : res.end('ok')));
    });
    s.keepAliveTimeout = 5_000;
    const connections = { opened: 0 };
    s.on('connection', () => connections.opened++);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    cleanup.push(async () => {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    });
    return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, held, connections };
  }

  function withClock() {
    const clock = { now: 0 };
    const dispatcher = new FreshConnections({}, () => clock.now);
    cleanup.push(() => dispatcher.close());
    const get = async (url: string) => {
      const text = await (await request(url, { dispatcher })).body.text();
      // undici frees a connection for the next request one event-loop turn after an answer
      await new Promise(setImmediate);
      return text;
    };
    return { clock, dispatcher, get };
  }

  it('decides by the clock, not by a timer: a connection idle past the keep-alive is not reused', async () => {
    const { url, connections } = await server();
    const { clock, get } = withClock();
    await get(`${url}/a`);
    clock.now += 2_999;
    await get(`${url}/b`);
    expect(connections.opened).toBe(1);
    clock.now += 3_001; // no timer has fired: only the clock says the connection is stale
    await get(`${url}/c`);
    expect(connections.opened).toBe(2);
  });

  it('never drops a connection with a request on it, however long it has waited', async () => {
    const { url, held } = await server();
    const { clock, get } = withClock();
    await get(`${url}/a`);
    const slow = get(`${url}/hold`);
    await expect.poll(() => held.length).toBe(1);
    clock.now += 60_000;
    expect(await get(`${url}/b`)).toBe('ok');
    held[0]!.end('late');
    expect(await slow).toBe('late');
  });
});
