import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { MockAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { groupConversationId, uniqueConversationId } from '../../src/backends/mixin/ids.js';
import { mixinBackend } from '../../src/backends/mixin/index.js';
import type { MixinBackendConfig } from '../../src/config/schema.js';
import { AuthError, CapacityError, TransientError } from '../../src/errors.js';
import type { PlanOp } from '../../src/plan/types.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { MixinSandbox } from '../../src/sandbox/mixin/server.js';
import { Store } from '../../src/store/store.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const logger = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'convsync-mixin-'));
const config = (baseUrl: string, keystoreFile: string): MixinBackendConfig => ({
  type: 'mixin',
  baseUrl,
  keystoreFile,
  maxMembers: 256,
  tokenLifetimeSeconds: 60,
  verifyUsers: true,
  timeoutMs: 5000,
});

let sandbox: MixinSandbox | undefined;
let h: Harness | undefined;
afterEach(async () => {
  await sandbox?.stop();
  await h?.close();
  sandbox = undefined;
  h = undefined;
});

describe('Mixin ids', () => {
  it('sort byte-wise in UTF-8, set the version-3 and variant bits, and ignore participant order', () => {
    // U+FF21 sorts after an astral character in UTF-16 but before it in UTF-8
    const [a, b] = ['\uFF21', '\u{1F600}'];
    const digest = createHash('md5')
      .update(Buffer.concat([Buffer.from(a), Buffer.from(b)]))
      .digest();
    digest[6] = (digest[6]! & 0x0f) | 0x30;
    digest[8] = (digest[8]! & 0x3f) | 0x80;
    const hex = digest.toString('hex');
    expect(uniqueConversationId(b, a)).toBe(`${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`);
    expect(uniqueConversationId(a, b)).toBe(uniqueConversationId(b, a));
    const id = groupConversationId(
      '11111111-1111-4111-8111-111111111111',
      'Team ä',
      ['b0000000-0000-4000-8000-000000000000', 'a0000000-0000-4000-8000-000000000000'],
      'F0000000-0000-4000-8000-00000000000F',
    );
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-3[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(
      groupConversationId(
        '11111111-1111-4111-8111-111111111111',
        'Team ä',
        ['a0000000-0000-4000-8000-000000000000', 'b0000000-0000-4000-8000-000000000000'],
        'f0000000-0000-4000-8000-00000000000f',
      ),
    ).toBe(id);
  });
});

describe('Mixin backend against the Mixin sandbox', () => {
  async function setup() {
    sandbox = await MixinSandbox.start({ maxMembers: 4 });
    const bot = sandbox.createBot();
    const file = join(dir, `ks-${bot.userId}.json`);
    writeFileSync(file, JSON.stringify(bot.keystore));
    const people = Array.from({ length: 5 }, () => sandbox!.addUser().user_id);
    return { bot, people, backend: mixinBackend.create(config(sandbox.url, file), { logger }), file };
  }

  it('signs every request with a fresh JWT the sandbox accepts, stays OWNER, and changes members in batches', async () => {
    const { bot, people, backend } = await setup();
    expect((await backend.whoami()).userId).toBe(bot.userId);
    const conv = await backend.create({ name: 'Team x', members: people.slice(0, 2) });
    expect(sandbox!.conversations.get(conv.id)!.participants.get(bot.userId)).toBe('OWNER');
    expect(await backend.addMembers(conv.id, people.slice(0, 3))).toEqual({ added: [people[2]] });
    expect(await backend.removeMembers(conv.id, [people[0]!, bot.userId, people[4]!])).toEqual({ removed: [people[0]] });
    await backend.rename(conv.id, 'Team y');
    expect((await backend.get(conv.id))!.name).toBe('Team y');
    expect(await backend.get('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    // 4 members at most, the bot included: two more is one too many
    expect(await backend.addMembers(conv.id, people.slice(3, 5)).catch((e: unknown) => e)).toBeInstanceOf(CapacityError);
    expect(await backend.knownUsers!([people[0]!, '99999999-9999-4999-8999-999999999999'])).toEqual(new Set([people[0]]));
    expect(sandbox!.violations).toEqual([]);
  });

  it('after a crash, re-POSTs a create that did not land with the same id and random_id', async () => {
    const { people, file } = await setup();
    const backend = mixinBackend.create(config(sandbox!.url, file), { logger });
    const store = Store.open(':memory:');
    const prepared = backend.prepareCreate!({ name: 'Team z', members: [people[0]!] });
    const op: PlanOp = {
      op: 'create',
      key: 'group:corp:z',
      name: 'Team z',
      members: [people[0]!],
      groups: ['corp:z'],
      onGroupRemoved: 'keep',
      reason: 'test',
      prepared,
    };
    store.journal.pending(store.runs.start('sync'), op);
    const r = new Reconciler(store, backend, {
      dryRun: false,
      ownerId: 'convsync',
      concurrency: 1,
      ratePerSecond: 100,
      burst: 10,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
      settleMs: 0,
      logger,
    });
    expect(await r.recover()).toEqual({ resolved: 1, adopted: 1, inFlight: 0 });
    expect([...sandbox!.conversations.keys()]).toEqual([prepared.conversationId]);
    expect(store.loadSnapshot().conversations[0]).toMatchObject({ conversationId: prepared.conversationId });
    expect(store.loadSnapshot().conversations[0]!.members.toRecord()).toEqual({ [people[0]!]: 'convsync' });
    expect(sandbox!.violations).toEqual([]);
  });

  it('refuses an unreadable keystore with a clear reason', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ app_id: 'x', session_id: 'y', private_key: 'legacy' }));
    const backend = mixinBackend.create(config('http://127.0.0.1:9', bad), { logger });
    const e = await backend.whoami().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AuthError);
    expect((e as Error).message).toMatch(/is not a bot keystore: app_id/);
  });
});

describe('Mixin error envelope (MockAgent)', () => {
  it('maps HTTP 202 error codes, reads a non-JSON 5xx as transient, and refuses a wrong request-id echo', async () => {
    sandbox = await MixinSandbox.start();
    const bot = sandbox.createBot();
    const file = join(dir, 'ks-mock.json');
    writeFileSync(file, JSON.stringify(bot.keystore));
    const agent = new MockAgent();
    agent.disableNetConnect();
    const pool = agent.get('https://mixin.test');
    const backend = mixinBackend.create(config('https://mixin.test', file), { logger, dispatcher: agent });
    const err = (code: number) => ({ error: { status: 202, code, description: `code ${code}` } });
    pool.intercept({ path: '/me' }).reply(202, err(401));
    expect(await backend.whoami().catch((e: unknown) => e)).toBeInstanceOf(AuthError);
    pool.intercept({ path: '/me' }).reply(202, err(429));
    expect(await backend.whoami().catch((e: unknown) => e)).toMatchObject({ throttled: true, label: '429' });
    pool.intercept({ path: '/me' }).reply(502, '<html>Bad Gateway</html>');
    expect(await backend.whoami().catch((e: unknown) => e)).toBeInstanceOf(TransientError);
    pool.intercept({ path: '/me' }).reply(202, err(10002));
    expect(await backend.whoami().catch((e: unknown) => e)).toMatchObject({ label: '10002' });
    pool.intercept({ path: '/me' }).reply(200, { data: { user_id: bot.userId } }, { headers: { 'x-request-id': 'not-mine' } });
    const echo = await backend.whoami().catch((e: unknown) => e);
    // this request's own answer is lost: it may have been applied
    expect(echo).toBeInstanceOf(TransientError);
    expect(echo).toMatchObject({ ambiguous: true, label: 'contract' });
    expect((echo as Error).message).toMatch(/the answer is for request not-mine/);
    agent.assertNoPendingInterceptors();
  });
});

describe('Mixin end to end', () => {
  it('reports users Mixin does not know instead of sending them', async () => {
    h = await startHarness({ backend: 'mixin', groups: 1, membersPerGroup: 6, users: 6 });
    h.mixin!.users.delete(h.directory.users[0]!.externalId);
    const res = await h.cli(['sync']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/1 user\(s\) have an unusable externalId \(not a user mixin knows\), left out/);
    expect(h.chatState().get('Team eng')).toHaveLength(5);
    expect(h.chatViolations()).toEqual([]);
  });
});
