import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Store } from '../../src/store/store.js';
import { desiredState, startCli, startHarness, wireState, type Harness } from '../helpers/harness.js';

/** The CLI as a child process against both sandboxes over loopback HTTP. */
describe('convsync sync (end to end)', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('creates the conversations, and a second sync with no change makes zero write calls', async () => {
    h = await startHarness({ groups: 3, membersPerGroup: 4 });
    const first = await h.cli(['sync']);
    expect(first.code, first.stderr).toBe(0);
    expect(wireState(h.wire, h.botId)).toEqual(desiredState(h.scim, h.wireId));
    expect(h.wire.writeCalls()).toHaveLength(3);

    const writes = h.wire.writeCalls().length;
    const second = await h.cli(['sync', '--output', 'json']);
    expect(second.code, second.stderr).toBe(0);
    const out = JSON.parse(second.stdout) as { plan: { ops: unknown[] } };
    expect(out.plan.ops).toEqual([]);
    expect(h.wire.writeCalls().length).toBe(writes);
    expect(h.wire.violations).toEqual([]);
    // the daemon logged in with a persistent cookie and its own label
    expect(h.wire.logins[0]).toEqual({ persist: true, label: 'convsync' });
  });

  it('converges exactly with 2-second tokens and a 420 on every 5th call (200 groups × 20 members)', async () => {
    h = await startHarness({
      groups: 200,
      membersPerGroup: 20,
      users: 1000,
      wire: { faults: { tokenLifetimeSeconds: 2, throttleEvery: 5, retryAfterSeconds: 0 } },
    });
    h.writeConfig({ reconcile: { baseDelayMs: 10, maxDelayMs: 200, maxAttempts: 10, ratePerSecond: 200, burst: 20, concurrency: 4 } });
    const res = await h.cli(['sync']);
    expect(res.code, res.stderr).toBe(0);
    const state = wireState(h.wire, h.botId); // throws on a duplicate name
    expect(state).toEqual(desiredState(h.scim, h.wireId));
    expect(h.wire.conversations.size).toBe(200);
    expect(h.wire.violations).toEqual([]);
    // the faults really happened: throttled answers and token renewals through /access
    expect(h.wire.calls.filter((c) => c.status === 420).length).toBeGreaterThan(40);
    expect(h.wire.calls.filter((c) => c.path === '/access' && c.status === 200).length).toBeGreaterThan(0);
    expect(h.wire.logins.length).toBe(1);

    const writes = h.wire.writeCalls().filter((c) => c.status < 400).length;
    const again = await h.cli(['sync']);
    expect(again.code, again.stderr).toBe(0);
    expect(h.wire.writeCalls().filter((c) => c.status < 400).length).toBe(writes);
  });

  it('removes a leaver (managed), renames a renamed group, creates a new group, unbinds a gone group', async () => {
    h = await startHarness({ groups: 3, membersPerGroup: 4 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const [eng, ops, sales] = h.directory.groups;
    const leaver = eng!.members[0]!.value;
    h.scim.removeMember(eng!.id, leaver);
    h.scim.renameGroup(ops!.id, 'team-platform');
    h.scim.deleteGroup(sales!.id);
    h.scim.addGroup({ id: 'g-new', displayName: 'team-new', members: [{ value: h.directory.users[0]!.id, type: 'User' }] });

    const res = await h.cli(['sync']);
    expect(res.code, res.stderr).toBe(0);
    const state = wireState(h.wire, h.botId);
    expect(state.get('Team eng')).not.toContain(h.wireId(leaver));
    expect(state.get('Team eng')).toHaveLength(3);
    expect(state.has('Team ops')).toBe(false);
    expect(state.get('Team platform')).toHaveLength(4);
    expect(state.get('Team new')).toEqual([h.wireId(h.directory.users[0]!.id)]);
    // the gone group's conversation is kept on Wire (no deletion by default), but no longer managed
    expect(state.get('Team sales')).toHaveLength(4);
    expect(res.stdout).toMatch(/unbind/);
    const status = await h.cli(['status']);
    expect(status.stdout).toMatch(/3 conversation\(s\) bound/);
  });

  it('removes a leaver in remove: authoritative and keeps one in remove: never', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 4, users: 8 });
    h.writeConfig({
      mappings: [
        { match: { displayName: '^team-(eng)$' }, name: 'Team {1}', remove: 'authoritative' },
        { match: { displayName: '^team-(ops)$' }, name: 'Team {1}', remove: 'never' },
      ],
    });
    expect((await h.cli(['sync'])).code).toBe(0);
    const [eng, ops] = h.directory.groups;
    h.scim.removeMember(eng!.id, eng!.members[0]!.value);
    h.scim.removeMember(ops!.id, ops!.members[0]!.value);
    const res = await h.cli(['sync']);
    expect(res.code, res.stderr).toBe(0);
    const state = wireState(h.wire, h.botId);
    expect(state.get('Team eng')).toHaveLength(3);
    expect(state.get('Team ops')).toHaveLength(4);
    expect(state.get('Team ops')).toContain(h.wireId(ops!.members[0]!.value));
  });

  it('holds back every removal when a conversation would lose 50% with maxRemovalRatio 0.2, and exits 3', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 12, users: 12 });
    h.writeConfig({ guards: { maxRemovalsPerRun: 100, maxRemovalRatio: 0.2, removalRatioMinMembers: 10, protect: [] } });
    expect((await h.cli(['sync'])).code).toBe(0);
    const g = h.directory.groups[0]!;
    for (const m of g.members.slice(0, 6)) h.scim.removeMember(g.id, m.value);
    const writes = h.wire.writeCalls().length;
    const res = await h.cli(['sync']);
    expect(res.code, res.stderr).toBe(3);
    expect(res.stdout).toMatch(/QUARANTINED/);
    expect(res.stdout).toMatch(/would lose 6 of 12 members/);
    expect(h.wire.writeCalls().length).toBe(writes);
    expect(wireState(h.wire, h.botId).get('Team eng')).toHaveLength(12);

    // a dry run that would hold the same back (run 3) holds nothing: it is no approval's subject
    expect((await h.cli(['plan'])).code).toBe(3);
    // status says what is held and how to release it
    const status = await h.cli(['status']);
    expect(status.stdout).toMatch(/Held back in run #2: 6 removal\(s\)\/delete\(s\) in 1 conversation\(s\)/);
    expect(status.stdout).toMatch(/convsync approve 2/);
    expect(status.stdout).not.toMatch(/approve 3|run #3:/);
    const dryApproved = await h.cli(['approve', '3']);
    expect(dryApproved.code).toBe(1);
    expect(dryApproved.stderr).toMatch(/run 3 was a plan run: only what a sync held back can be approved/);

    // one of the six is back in the group before the approval: only the other five go
    h.scim.addMember(g.id, g.members[0]!.value);
    const approved = await h.cli(['approve', '2']);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(/Approved run 2: 5 held-back removal\(s\) released, 1 no longer apply/);
    const after = wireState(h.wire, h.botId).get('Team eng')!;
    expect(after).toHaveLength(7);
    expect(after).toContain(h.wireId(g.members[0]!.value));
    expect((await h.cli(['sync'])).code).toBe(0);
    expect((await h.cli(['approve', '99'])).stderr).toMatch(/run 99 has no plan recorded/);
    expect((await h.cli(['approve', '2'])).stderr).toMatch(/run 2 was approved already, by run 4/);
  });

  it('distrusts a source that answers an empty list: nothing unbound or removed, exit 3, until approved', async () => {
    h = await startHarness({ groups: 4, membersPerGroup: 3 });
    expect((await h.cli(['sync'])).code).toBe(0);
    h.scim.groups.clear();
    const writes = h.wire.writeCalls().length;
    const res = await h.cli(['sync']);
    expect(res.code, res.stderr).toBe(3);
    expect(res.stdout).toMatch(/source corp lists no groups at all, where its last good read had 4/);
    expect(h.wire.writeCalls().length).toBe(writes);
    expect((await h.cli(['status'])).stdout).toMatch(/4 conversation\(s\) bound/);
    const accepted = await h.cli(['sync', '--allow-removals']);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect((await h.cli(['status'])).stdout).toMatch(/0 conversation\(s\) bound/);
  });

  it('removes nobody when a SCIM page fails in the middle of the listing', async () => {
    h = await startHarness({ groups: 6, membersPerGroup: 3, scimMaxResults: 2 });
    // the full crawl, every run (an incremental read that cannot list what changed fails whole: test/e2e/incremental.test.ts)
    h.writeConfig({
      sources: [{ name: 'corp', type: 'scim', baseUrl: h.scim.baseUrl, auth: { type: 'bearer', tokenFile: './scim-token' }, fullReadEvery: '0s' }],
    });
    expect((await h.cli(['sync'])).code).toBe(0);
    // every group loses a member, and the second page of groups fails (after retries)
    for (const g of h.directory.groups) h.scim.removeMember(g.id, g.members[0]!.value);
    h.scim.faults.push({ path: '/Groups', query: { startIndex: '3' }, status: 500 });
    const before = wireState(h.wire, h.botId);
    const res = await h.cli(['sync']);
    const after = wireState(h.wire, h.botId);
    // groups on the pages that were read lose their leaver; the unread page keeps everyone
    const name = (i: number) => `Team ${h.directory.groups[i]!.displayName.slice(5)}`;
    for (const i of [2, 3]) expect(after.get(name(i))).toEqual(before.get(name(i)));
    for (const i of [0, 1, 4, 5]) expect(after.get(name(i))).toHaveLength(2);
    expect(h.wire.writeCalls().filter((c) => c.method === 'DELETE' && c.path.includes('/teams/'))).toEqual([]);
    expect(res.stdout).toMatch(/incompletely/);
    expect(res.code).toBe(1);
    expect(wireState(h.wire, h.botId).size).toBe(6);
    // the page failed every retry: 3 attempts on it
    expect(h.scim.requests.filter((r) => r.path === '/scim/v2/Groups' && r.query.includes('startIndex=3') && r.status === 500).length).toBe(3);

    // the provider recovers: the next run removes the held leavers and exits 0
    h.scim.faults.length = 0;
    const healed = await h.cli(['sync']);
    expect(healed.code, healed.stderr).toBe(0);
    for (const i of [2, 3]) expect(wireState(h.wire, h.botId).get(name(i))).toHaveLength(2);
  });

  it('distrusts a group that suddenly reads empty: nothing removed, exit 3 until approved', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 300, users: 600 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const g = h.directory.groups[0]!;
    for (const m of [...g.members]) h.scim.removeMember(g.id, m.value);
    const writes = h.wire.writeCalls().length;
    const res = await h.cli(['sync']);
    expect(res.code, res.stderr).toBe(3);
    expect(res.stdout).toMatch(/came back with no members \(had 300/);
    expect(h.wire.writeCalls().length).toBe(writes);
    const approved = await h.cli(['sync', '--allow-removals']);
    expect(approved.code, approved.stderr).toBe(0);
    expect(wireState(h.wire, h.botId).get('Team eng')).toEqual([]);
  });

  it('dry-run plans without a single write call', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 3 });
    const res = await h.cli(['sync', '--dry-run', '--detailed-exitcode']);
    expect(res.code, res.stderr).toBe(2);
    expect(res.stdout).toMatch(/create {2}"Team eng"/);
    expect(h.wire.writeCalls()).toEqual([]);
    expect(h.wire.conversations.size).toBe(0);
  });

  it('applies a saved plan to the same state as sync, and refuses a stale one', async () => {
    h = await startHarness({ groups: 3, membersPerGroup: 4 });
    const planFile = join(h.dir, 'plan.json');
    const plan = await h.cli(['plan', '--out', planFile]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(h.wire.writeCalls()).toEqual([]);
    expect(JSON.parse(readFileSync(planFile, 'utf8')).ops).toHaveLength(3);

    const applied = await h.cli(['apply', planFile]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(wireState(h.wire, h.botId)).toEqual(desiredState(h.scim, h.wireId));

    // the same plan again: the snapshot moved, so it is refused and nothing is written
    const writes = h.wire.writeCalls().length;
    const stale = await h.cli(['apply', planFile]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/refused: the conversations changed since this plan was made/);
    expect(h.wire.writeCalls().length).toBe(writes);
    expect(h.wire.conversations.size).toBe(3);
  });

  it('refuses a saved plan that removes someone guards.protect came to protect since it was made', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 4 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const g = h.directory.groups[0]!;
    const leaving = g.members[0]!.value;
    h.scim.removeMember(g.id, leaving);
    const planFile = join(h.dir, 'plan.json');
    expect((await h.cli(['plan', '--out', planFile])).code).toBe(0);
    h.writeConfig({ guards: { protect: [h.wireId(leaving).toUpperCase()] } });
    const writes = h.wire.writeCalls().length;
    const refused = await h.cli(['apply', planFile]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/whom this configuration never removes \(the daemon's own user or guards\.protect\); make a new plan/);
    expect(h.wire.writeCalls().length).toBe(writes);
  });

  it('converges through random 503s and latency, and keeps no secret in its logs', async () => {
    h = await startHarness({ groups: 30, membersPerGroup: 5, wire: { seed: 3, faults: { errorRatio: 0.15, latencyMs: 3 } } });
    h.writeConfig({ log: { level: 'trace' }, reconcile: { baseDelayMs: 5, maxDelayMs: 50, maxAttempts: 10, lostAnswerSettleMs: 0 } });
    // a 503 to a create may come after it was made: not found, it is made at the next run
    let res = await h.cli(['sync']);
    for (let run = 1; run < 5 && res.code !== 0; run++) res = await h.cli(['sync']);
    expect(res.code, res.stderr).toBe(0);
    expect(wireState(h.wire, h.botId)).toEqual(desiredState(h.scim, h.wireId));
    expect(h.wire.calls.filter((c) => c.status === 503).length).toBeGreaterThan(5);
    expect(res.stderr).toMatch(/"level":20/); // debug lines were written…
    for (const secret of ['harness-password', 'harness-scim-token']) expect(res.stderr + res.stdout).not.toContain(secret);
    expect(res.stderr).not.toMatch(/zuid=/);
  });

  it('holds members beyond the conversation size with a capacity warning, and does not fail', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 15, users: 15, wire: { maxConvSize: 10 } });
    h.writeConfig({
      backend: {
        type: 'wire',
        baseUrl: h.wire.url,
        email: 'sync-bot@example.com',
        passwordFile: './wire-password',
        teamId: h.wire.teamId,
        maxConversationSize: 10,
      },
    });
    const res = await h.cli(['sync']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/wants 15 members but the backend allows 10 including convsync: 6 not added/);
    expect(wireState(h.wire, h.botId).get('Team eng')).toHaveLength(9);
    expect(h.wire.violations).toEqual([]);
    const again = await h.cli(['sync']);
    expect(again.code).toBe(0);
    expect(h.wire.calls.filter((c) => c.status === 403)).toEqual([]);
  });

  it('looks users up by Wire handle, caches the answers in the store, and reports unknown handles', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 6, users: 12 });
    h.writeConfig({ identity: { from: 'userName', lookup: 'handle' } });
    const ghost = h.directory.users[0]!;
    delete h.wire.users.get(ghost.externalId)!.handle;
    const res = await h.cli(['sync']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`1 user\\(s\\) have an unusable userName \\(no wire user has this handle\\), left out: ${ghost.userName}`));
    const want = desiredState(h.scim, h.wireId);
    want.set(
      'Team eng',
      want.get('Team eng')!.filter((id) => id !== ghost.externalId),
    );
    expect(wireState(h.wire, h.botId)).toEqual(want);
    // 12 handles, at most 4 per call
    expect(h.wire.calls.filter((c) => /^\/v\d+\/list-users$/.test(c.path))).toHaveLength(3);

    const again = await h.cli(['sync']);
    expect(again.code, again.stderr).toBe(0);
    expect(h.wire.calls.filter((c) => /^\/v\d+\/list-users$/.test(c.path))).toHaveLength(3);
  });

  it('resumes after SIGKILL in the middle of an apply: no duplicate, nothing lost, nothing pending', async () => {
    h = await startHarness({ groups: 40, membersPerGroup: 3, wire: { faults: { latencyMs: 15 } } });
    h.writeConfig({ reconcile: { concurrency: 4, ratePerSecond: 1000, burst: 50, lostAnswerSettleMs: 0 } });
    const run = startCli(['sync', '--config', h.configFile]);
    while (h.wire.writeCalls().length < 12) await sleep(5);
    run.child.kill('SIGKILL');
    await run.done;
    // killed while calls were in flight: their journal rows are still pending
    const store = Store.open(join(h.dir, 'convsync.db'));
    const pending = store.journal.pendingRows().length;
    store.close();
    expect(pending).toBeGreaterThan(0);
    const createdBefore = h.wire.conversations.size;
    expect(createdBefore).toBeGreaterThanOrEqual(12);
    expect(createdBefore).toBeLessThan(40);

    const again = await h.cli(['sync']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`Recovered ${pending} op\\(s\\) left pending by an interrupted run`));
    expect(h.wire.conversations.size).toBe(40);
    expect(wireState(h.wire, h.botId)).toEqual(desiredState(h.scim, h.wireId)); // throws on a duplicate name
    const status = await h.cli(['status', '--output', 'json']);
    expect(JSON.parse(status.stdout)).toMatchObject({ conversations: 40, pending: [] });
  });
});
