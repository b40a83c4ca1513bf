import nock from 'nock';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { protocolBackend } from '../../src/backends/protocol/index.js';
import { isAmbiguous, TransientError } from '../../src/errors.js';
import type { PlanOp } from '../../src/plan/types.js';
import { planOf } from '../helpers/plan.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { Store } from '../../src/store/store.js';

/**
 * Transport faults a loopback server does not make on demand, for the Protocol adapter: a socket
 * hung up after the request body was sent, and a refused connection. nock 15 answers for the
 * Protocol API; any request it was not told about fails the test.
 */
const BASE = 'http://protocol.example.test/v1';
const logger = pino({ level: 'silent' });
const backend = () =>
  protocolBackend.create(
    { type: 'protocol', baseUrl: BASE, auth: { type: 'bearer', token: 'tok' }, contacts: { matchOn: 'username', create: false }, timeoutMs: 2000 },
    { logger },
  );
const group = (over: Record<string, unknown> = {}) => ({
  id: 'GroupAAAAAAAAAA1',
  name: 'Team x',
  contacts: [{ id: 'ContactAAAAAAAA1' }],
  conversation_id: 'ConvAAAAAAAAAAA1',
  archived_at: null,
  created_at: Math.floor(Date.now() / 1000),
  ...over,
});
const plan = planOf;
const reconciler = (store: Store) =>
  new Reconciler(store, backend(), {
    dryRun: false,
    ownerId: 'convsync',
    concurrency: 1,
    ratePerSecond: 1000,
    burst: 10,
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    logger,
  });

beforeEach(() => {
  nock.disableNetConnect();
});
afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('Protocol transport edge cases (nock)', () => {
  it('a socket hung up after the body was sent is ambiguous; a refused connection is not', async () => {
    nock(BASE).post('/groups').replyWithError({ code: 'ECONNRESET', message: 'socket hang up' });
    const hung = await backend()
      .create({ name: 'Team x', members: [] })
      .catch((e: unknown) => e);
    expect(hung).toBeInstanceOf(TransientError);
    expect(isAmbiguous(hung)).toBe(true);
    nock(BASE).post('/groups').replyWithError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' });
    const refused = await backend()
      .create({ name: 'Team x', members: [] })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TransientError);
    expect(isAmbiguous(refused)).toBe(false);
  });

  it('a create whose answer was lost is looked for and adopted, never POSTed again', async () => {
    const store = Store.open(':memory:');
    let sent: { description?: string } = {};
    nock(BASE)
      .post('/groups', (body: { description?: string }) => ((sent = body), true))
      .replyWithError({ code: 'ECONNRESET', message: 'socket hang up' })
      .get('/groups')
      .query(true)
      // the one it made carries the marker it sent; an older one and a person's of the same name do not
      .reply(200, () => ({
        has_more: false,
        data: [
          group({ description: sent.description }),
          group({ id: 'OldGroupAAAAAAA1', created_at: 1_000_000 }),
          group({ id: 'PersonsGroupAAA1', description: 'managed by convsync' }),
        ],
      }));
    const op: PlanOp = {
      op: 'create',
      key: 'group:corp:x',
      name: 'Team x',
      members: ['ContactAAAAAAAA1'],
      groups: ['corp:x'],
      onGroupRemoved: 'keep',
      reason: 'test',
    };
    const result = await reconciler(store).apply(plan([op]), store.runs.start('sync'));
    expect(result).toMatchObject({ done: 1, failed: [] });
    expect(nock.isDone()).toBe(true);
    // the group made after the op, not the older one of the same name
    expect(store.bindingOf('group:corp:x')).toMatchObject({ conversationId: 'GroupAAAAAAAAAA1' });
    expect(store.journal.ofRun(1)[0]).toMatchObject({ status: 'done', note: 'found after its answer was lost' });
  });

  it('when the look fails too, the create stays pending (unknown), and the next run adopts before planning', async () => {
    const store = Store.open(':memory:');
    let sent: { description?: string } = {};
    nock(BASE)
      .post('/groups', (body: { description?: string }) => ((sent = body), true))
      .reply(502, '<html>502 Bad Gateway</html>')
      .get('/groups')
      .query(true)
      .times(3)
      .reply(503, '<html>503</html>');
    const op: PlanOp = {
      op: 'create',
      key: 'group:corp:x',
      name: 'Team x',
      members: ['ContactAAAAAAAA1'],
      groups: ['corp:x'],
      onGroupRemoved: 'keep',
      reason: 'test',
    };
    const result = await reconciler(store).apply(plan([op]), store.runs.start('sync'));
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]!.error).toMatch(/answer lost .* left pending/);
    expect(store.journal.pendingRows()).toHaveLength(1);
    expect(store.bindingOf('group:corp:x')).toBeUndefined();
    nock(BASE)
      .get('/groups')
      .query(true)
      .reply(200, () => ({ has_more: false, data: [group({ description: sent.description })] }));
    expect(await reconciler(store).recover()).toEqual({ resolved: 1, adopted: 1, inFlight: 0 });
    expect(store.bindingOf('group:corp:x')).toMatchObject({ conversationId: 'GroupAAAAAAAAAA1' });
    expect(nock.isDone()).toBe(true);
  });

  it("a group's conversation whose answer was lost is looked for on the group before any second POST", async () => {
    nock(BASE)
      .post('/groups')
      .reply(200, group({ conversation_id: null }))
      .post('/conversations')
      .replyWithError({ code: 'ECONNRESET', message: 'socket hang up' })
      .get('/groups/GroupAAAAAAAAAA1')
      .reply(200, group());
    const conv = await backend().create({ name: 'Team x', members: ['ContactAAAAAAAA1'] });
    expect(conv.id).toBe('GroupAAAAAAAAAA1');
    expect(nock.isDone()).toBe(true);
  });
});
