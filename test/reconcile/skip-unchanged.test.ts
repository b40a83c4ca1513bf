import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema.js';
import { createApp, type App } from '../../src/main.js';
import { runOnce, type RunOptions } from '../../src/reconcile/run.js';
import { randomUuid, seededRandom } from '../../src/sandbox/random.js';
import { ScimSandbox } from '../../src/sandbox/scim/server.js';
import { sampleDirectory } from '../../src/sandbox/directory.js';
import { WireSandbox } from '../../src/sandbox/wire/server.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const random = seededRandom(5);
const users = Array.from({ length: 8 }, (_, i) => ({ id: `u${i}`, userName: `user${i}`, externalId: randomUuid(random) }));
const directory = (extra: string[] = []) => ({
  users,
  groups: [
    { id: 'g1', displayName: 'team-eng', members: ['u0', 'u1', 'u2', ...extra] },
    { id: 'g2', displayName: 'team-ops', members: ['u3', 'u4'] },
  ],
});

async function setup(sources: (ctx: { dir: string; file: string }) => unknown[], extra: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-unchanged-'));
  const wire = await WireSandbox.start({});
  cleanup.push(
    () => rmSync(dir, { recursive: true, force: true }),
    () => wire.stop(),
  );
  wire.addUser({ email: 'bot@example.com', password: 'bot-password' });
  for (const u of users) wire.addUser({ id: u.externalId });
  const file = join(dir, 'directory.json');
  writeFileSync(file, JSON.stringify(directory()));
  const configOf = (over: Record<string, unknown> = {}) =>
    ConfigSchema.parse({
      store: { path: join(dir, 'db.sqlite') },
      sources: sources({ dir, file }),
      backend: { type: 'wire', baseUrl: wire.url, email: 'bot@example.com', password: 'bot-password', teamId: wire.teamId },
      mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}' }],
      reconcile: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2, lostAnswerSettleMs: 0 },
      drift: { refreshEveryRuns: 0 },
      log: { level: 'silent' },
      ...extra,
      ...over,
    });
  let app: App | undefined;
  let reads = 0;
  const open = async (over: Record<string, unknown> = {}) => {
    app = await createApp(configOf(over), { logger: pino({ level: 'silent' }), writer: 'test' });
    for (const s of app.sources) {
      const fetch = s.fetch.bind(s);
      (s as { fetch: typeof fetch }).fetch = (signal) => {
        reads++;
        return fetch(signal);
      };
    }
    return app;
  };
  await open();
  cleanup.push(() => app?.close());
  /** a run, and what it cost: source reads, and calls to Wire about conversations (not signing in) */
  const run = async (opts: Partial<RunOptions> = {}) => {
    const [readsBefore, callsBefore] = [reads, wire.calls.length];
    const outcome = await runOnce(app!, { mode: 'sync', ...opts });
    const conversationCalls = wire.calls.slice(callsBefore).filter((c) => /conversations/.test(c.path)).length;
    return { outcome, reads: reads - readsBefore, conversationCalls, skipped: outcome.plan.warnings.some((w) => /^unchanged since run/.test(w)) };
  };
  const reopen = async (over: Record<string, unknown>) => {
    await app?.close();
    await open(over);
  };
  const members = (name: string) => {
    const c = [...wire.conversations.values()].find((x) => x.name === name);
    return c ? [...c.members.keys()] : undefined;
  };
  return { dir, file, wire, run, reopen, members, app: () => app! };
}

const fileSource = ({ file }: { file: string }) => [{ name: 'dir', type: 'file', path: file }];

describe('a run with nothing changed reads and plans nothing', () => {
  it('file source: unchanged (size, mtime, hash) → no read, no plan, no call about conversations; a change → read and applied', async () => {
    const t = await setup(fileSource);
    const first = await t.run();
    expect(first).toMatchObject({ reads: 1, skipped: false });
    expect(first.outcome.plan.summary.create).toBe(2);

    const second = await t.run();
    expect(second).toMatchObject({ reads: 0, conversationCalls: 0, skipped: true, outcome: { exitCode: 0 } });
    expect(second.outcome.plan.ops).toEqual([]);
    expect(second.outcome.plan.warnings[0]).toMatch(
      /unchanged since run 1: no source changed and no conversation moved, so nothing was read or planned \(next full plan by .+, reconcile\.fullPlanEvery\)/,
    );
    expect(t.app().store.runs.recent(1)[0]).toMatchObject({ id: second.outcome.runId, result: 'unchanged', exitCode: 0 });

    writeFileSync(t.file, JSON.stringify(directory(['u5'])));
    const changed = await t.run();
    expect(changed).toMatchObject({ reads: 1, skipped: false });
    expect(changed.outcome.plan.summary).toMatchObject({ add: 1, membersAdded: 1 });
    expect(t.members('Team eng')).toContain(users[5]!.externalId);
    expect(await t.run()).toMatchObject({ reads: 0, conversationCalls: 0, skipped: true });
  });

  it('file source: new content of the same size with the mtime set back is found by its hash; a touch alone is no change (its bytes are the same)', async () => {
    const t = await setup(fileSource);
    await t.run();
    const { mtime, size } = statSync(t.file);
    // u1 → u6: the same length
    writeFileSync(
      t.file,
      JSON.stringify({ ...directory(), groups: [{ id: 'g1', displayName: 'team-eng', members: ['u0', 'u6', 'u2'] }, directory().groups[1]] }),
    );
    utimesSync(t.file, mtime, mtime);
    expect(statSync(t.file).size).toBe(size);
    const changed = await t.run();
    expect(changed).toMatchObject({ reads: 1, skipped: false });
    expect(t.members('Team eng')).toContain(users[6]!.externalId);

    const later = new Date(Date.now() + 5000);
    utimesSync(t.file, later, later);
    expect(await t.run()).toMatchObject({ reads: 0, skipped: true });
    expect(await t.run()).toMatchObject({ reads: 0, skipped: true });
  });

  it('still plans in full every reconcile.fullPlanEvery, on --refresh and --allow-removals, and when the configuration changes', async () => {
    const t = await setup(fileSource);
    await t.run();
    expect((await t.run()).skipped).toBe(true);
    const { store } = t.app();
    const stamp = store.reads.planStamp()!;
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    store.reads.savePlanStamp({ ...stamp, at: hourAgo, fullAt: hourAgo });
    expect(await t.run()).toMatchObject({ reads: 1, skipped: false });
    expect((await t.run()).skipped).toBe(true);
    expect(await t.run({ refresh: true })).toMatchObject({ reads: 1, skipped: false });
    expect(await t.run({ allowRemovals: true })).toMatchObject({ reads: 1, skipped: false });
    expect((await t.run()).skipped).toBe(true);
    await t.reopen({ mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}!' }] });
    const renamed = await t.run();
    expect(renamed).toMatchObject({ reads: 1, skipped: false });
    expect(renamed.outcome.plan.summary.rename).toBe(2);
    expect((await t.run()).skipped).toBe(true);
    await t.reopen({ mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}!' }], reconcile: { fullPlanEvery: '0s' } });
    expect((await t.run()).skipped).toBe(false);
    expect((await t.run()).skipped).toBe(false);
  });

  it('a change read by a run that then failed is planned by the next run, though the file has not changed since', async () => {
    const t = await setup(fileSource);
    await t.run();
    writeFileSync(t.file, JSON.stringify(directory(['u7'])));
    t.wire.faults.errorRatio = 1;
    await expect(t.run()).rejects.toThrow();
    t.wire.faults.errorRatio = 0;
    const next = await t.run();
    expect(next).toMatchObject({ reads: 1, skipped: false });
    expect(t.members('Team eng')).toContain(users[7]!.externalId);
    expect((await t.run()).skipped).toBe(true);
  });

  it('the drift refresh still runs every drift.refreshEveryRuns and finds what was changed by hand while the sources were unchanged', async () => {
    const t = await setup(fileSource, { drift: { refreshEveryRuns: 3 } });
    await t.run();
    const eng = [...t.wire.conversations.values()].find((c) => c.name === 'Team eng')!;
    eng.name = 'renamed by hand';
    expect(await t.run()).toMatchObject({ skipped: true, conversationCalls: 0 });
    const third = await t.run();
    expect(third).toMatchObject({ skipped: false, outcome: { drift: { renamed: 1 } } });
    expect(eng.name).toBe('Team eng');
  });

  it('SCIM source: a run with nothing changed asks the provider four short questions and plans nothing; a change is planned', async () => {
    const scim = await ScimSandbox.start({
      directory: sampleDirectory({ groups: 2, membersPerGroup: 3, users: 6, seed: 3 }),
      auth: { type: 'bearer', token: 't' },
    });
    cleanup.push(() => scim.stop());
    const t = await setup(() => [{ name: 'corp', type: 'scim', baseUrl: scim.baseUrl, auth: { type: 'bearer', token: 't' } }]);
    for (const u of scim.users.values()) t.wire.addUser({ id: u.externalId });
    const first = await t.run();
    expect(first.outcome.plan.summary.create).toBe(2);
    const before = scim.requests.length;
    expect(await t.run()).toMatchObject({ reads: 0, conversationCalls: 0, skipped: true });
    const asked = scim.requests.slice(before);
    // the directory was made within the overlap: its groups are read and compared once
    expect(asked.filter((r) => !/^\/scim\/v2\/Groups\/g-/.test(r.path))).toHaveLength(4);
    scim.addMember('g-00001', 'u-000006');
    const changed = await t.run();
    expect(changed).toMatchObject({ reads: 1, skipped: false });
    expect(changed.outcome.plan.summary.add).toBe(1);
  });

  it('SCIM push source: any write to what was pushed is a change; none is none', async () => {
    const t = await setup(() => [{ name: 'entra', type: 'scim-push', token: 'push-token' }]);
    const { store } = t.app();
    const at = new Date().toISOString();
    for (const u of users)
      store.push.putUser(
        'entra',
        { id: u.id, userName: u.userName, externalId: u.externalId, active: true, resource: { userName: u.userName, externalId: u.externalId } },
        at,
      );
    store.push.putGroup('entra', { id: 'g1', displayName: 'team-eng' }, at);
    store.push.addMembers('entra', 'g1', ['u0', 'u1']);
    expect((await t.run()).outcome.plan.summary.create).toBe(1);
    expect(await t.run()).toMatchObject({ reads: 0, skipped: true });
    store.push.addMembers('entra', 'g1', ['u2']);
    const changed = await t.run();
    expect(changed).toMatchObject({ reads: 1, skipped: false });
    expect(t.members('Team eng')).toContain(users[2]!.externalId);
    expect((await t.run()).skipped).toBe(true);
    store.push.removeMembers('entra', 'g1', ['u2']);
    expect((await t.run()).skipped).toBe(false);
  });

  it('SAML source: a new login is a change, and so is a membership that expired since the last plan', async () => {
    const ttlMs = 1500;
    const t = await setup(({ dir }) => {
      writeFileSync(join(dir, 'idp.xml'), '<EntityDescriptor/>');
      return [
        {
          name: 'sso',
          type: 'saml',
          publicUrl: 'https://convsync.example',
          idp: { metadataFile: join(dir, 'idp.xml') },
          membershipTtlHours: ttlMs / 3_600_000,
          users: { externalIdAttribute: 'wireId' },
        },
      ];
    });
    const { store } = t.app();
    const login = (u: (typeof users)[number], id: string) => {
      const at = new Date().toISOString();
      store.saml.recordLogin(
        'sso',
        {
          nameId: u.userName,
          attributes: { wireId: [u.externalId] },
          groups: ['team-eng'],
          groupsUnknown: false,
          assertionId: id,
          issueInstant: at,
          loggedInAt: at,
        },
        { assertionExpiresAt: new Date(Date.now() + 300_000).toISOString(), now: at },
      );
    };
    login(users[0]!, 'a1');
    expect((await t.run()).outcome.plan.summary.create).toBe(1);
    expect((await t.run()).skipped).toBe(true);
    login(users[1]!, 'a2');
    expect((await t.run()).skipped).toBe(false);
    expect(t.members('Team eng')).toContain(users[1]!.externalId);
    expect((await t.run()).skipped).toBe(true);
    // nobody logs in again: both memberships expire, and the run after that plans their removal
    await sleep(ttlMs + 200);
    const expired = await t.run();
    expect(expired.skipped).toBe(false);
    expect(expired.outcome.plan.summary.membersRemoved + expired.outcome.plan.blocked.length).toBeGreaterThan(0);
  });
});
