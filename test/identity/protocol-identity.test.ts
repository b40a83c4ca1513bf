import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema.js';
import { createApp } from '../../src/main.js';
import { runOnce } from '../../src/reconcile/run.js';
import { ProtocolSandbox } from '../../src/sandbox/protocol/server.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** an in-process app over a file source and the Protocol sandbox, identity by username lookup */
async function protocolApp(users: object[], groups: object[], contacts: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-protocol-identity-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const protocol = await ProtocolSandbox.start({ token: 'protocol-token', faults: {} });
  cleanups.push(() => protocol.stop());
  writeFileSync(join(dir, 'token'), 'protocol-token\n');
  const file = join(dir, 'directory.json');
  const write = (u: object[], g: object[]) => writeFileSync(file, JSON.stringify({ users: u, groups: g }));
  write(users, groups);
  const config = ConfigSchema.parse({
    store: { path: join(dir, 'db.sqlite') },
    sources: [{ name: 'dir', type: 'file', path: file }],
    backend: { type: 'protocol', baseUrl: protocol.baseUrl, auth: { type: 'bearer', tokenFile: join(dir, 'token') }, contacts },
    identity: { from: 'userName', lookup: 'handle', phoneFrom: 'externalId' },
    mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}' }],
    guards: { maxRemovalsPerRun: 100, maxRemovalRatio: 1 },
    reconcile: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2, lostAnswerSettleMs: 0, fullPlanEvery: '0s' },
    drift: { refreshEveryRuns: 0 },
    log: { level: 'silent' },
  });
  const app = await createApp(config, { logger: pino({ level: 'silent' }), writer: 'test' });
  cleanups.push(() => app.close());
  return { app, protocol, write };
}

it('a contact made for a directory user carries the username the directory gives, not a lower-cased one', async () => {
  const users = [{ id: 'u1', userName: 'Fresh.Person', externalId: '+4930111', active: true }];
  const groups = [{ id: 'a', displayName: 'team-a', members: ['u1'] }];
  const { app, protocol } = await protocolApp(users, groups, { create: true });
  expect((await runOnce(app, { mode: 'sync' })).exitCode).toBe(0);
  expect([...protocol.contacts.values()].map((c) => c.username)).toEqual(['Fresh.Person']);
});

it('looking up many usernames reads the contact list once, not once per hundred usernames', async () => {
  const users = Array.from({ length: 250 }, (_, i) => ({ id: `u${i}`, userName: `user${i}`, active: true }));
  const { app, protocol } = await protocolApp(users, [{ id: 'a', displayName: 'team-a', members: users.map((u) => u.id) }]);
  for (const u of users) protocol.addContact({ username: u.userName, phone_number: '+1' });
  expect((await runOnce(app, { mode: 'dry-run' })).exitCode).toBe(0);
  const pages = protocol.calls.filter((c) => c.method === 'GET' && c.path === '/v1/contacts').length;
  // 250 contacts are three pages of 100
  expect(pages).toBe(3);
});

it('a contact whose create answer is lost is found by its username and adopted, made once, and joins its group in the same run', async () => {
  const users = [{ id: 'u1', userName: 'Fresh.Person', externalId: '+4930111', active: true }];
  const { app, protocol } = await protocolApp(users, [{ id: 'a', displayName: 'team-a', members: ['u1'] }], { create: true });
  protocol.loseResponses({ method: 'POST', path: '/v1/contacts', times: 3 });
  const run = await runOnce(app, { mode: 'sync' });
  expect(run.exitCode).toBe(0);
  const made = [...protocol.contacts.values()];
  expect(made).toHaveLength(1);
  expect([...protocol.groups.values()][0]!.contacts).toEqual([made[0]!.id]);
  expect((await runOnce(app, { mode: 'sync' })).plan.ops).toEqual([]);
});
