import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { afterPush, GROUP, lastRun as lastRunOf, PATCH, scim, startDaemon, USER, type Daemon } from '../helpers/daemon.js';
import { desiredState, startHarness, until, wireState, type Harness } from '../helpers/harness.js';

const MAPPING = { match: { displayName: '^team-(.+)$' }, name: 'Team {1}', remove: 'managed' };
const TYPO = { ...MAPPING, match: { displayName: '^taem-(.+)$' } };
const GUARDS = { maxRemovalsPerRun: 1000, maxRemovalRatio: 0.5, removalRatioMinMembers: 10, protect: [] };

interface JsonRun {
  runId: number;
  exitCode: number;
  plan: { ops: { op: string; key: string }[]; blocked: { kind: string; op: { op: string } }[]; warnings: string[]; summary: Record<string, number | boolean> };
}
const json = (stdout: string) => JSON.parse(stdout) as JsonRun;

describe('unbind is guarded and reversible (the real CLI against the Wire sandbox)', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('a mapping typo is held (maxUnbindsPerRun), approved, and its fix binds the same conversations again', async () => {
    h = await startHarness({ groups: 6, membersPerGroup: 3 });
    h.writeConfig({ guards: GUARDS });
    expect((await h.cli(['sync'])).code).toBe(0);
    const ids = [...h.wire.conversations.keys()].sort();
    expect(ids).toHaveLength(6);

    h.writeConfig({ guards: GUARDS, mappings: [TYPO] });
    const typo = await h.cli(['sync', '--output', 'json']);
    expect(typo.code, typo.stderr).toBe(3);
    const held = json(typo.stdout);
    expect(held.plan.ops).toEqual([]);
    expect(held.plan.blocked.filter((b) => b.kind === 'guard' && b.op.op === 'unbind')).toHaveLength(6);
    expect(held.plan.warnings.join('\n')).toMatch(/6 conversations let go \(unbind\) exceed maxUnbindsPerRun 5/);
    expect(JSON.parse((await h.cli(['status', '--output', 'json'])).stdout)).toMatchObject({ conversations: 6 });

    // approved: the held unbinds go (approve releases unbinds as it does removals)
    const approved = await h.cli(['approve', String(held.runId)]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(/6 held-back removal\(s\) released/);
    expect(JSON.parse((await h.cli(['status', '--output', 'json'])).stdout)).toMatchObject({ conversations: 0 });

    // someone joins one of them by hand while it is let go
    const newcomer = h.wire.addUser({ name: 'newcomer' }).id;
    h.wire.conversations.get(ids[0]!)!.members.set(newcomer, 'wire_member');

    // the fix: the groups are back and bound to their old conversations, none made twice
    h.writeConfig({ guards: GUARDS, mappings: [MAPPING] });
    const fixed = await h.cli(['sync', '--output', 'json']);
    expect(fixed.code, fixed.stderr).toBe(0);
    const ops = json(fixed.stdout).plan.ops.map((o) => o.op);
    expect(ops.filter((o) => o === 'rebind')).toHaveLength(6);
    expect(ops).not.toContain('create');
    expect([...h.wire.conversations.keys()].sort()).toEqual(ids);
    const state = wireState(h.wire, h.botId);
    for (const [name, members] of desiredState(h.scim, h.wireId)) {
      expect(
        state.get(name)!.filter((m) => m !== newcomer),
        name,
      ).toEqual(members);
    }
    // the newcomer was not added by convsync: with remove: managed they stay
    expect([...h.wire.conversations.get(ids[0]!)!.members.keys()]).toContain(newcomer);
    const again = await h.cli(['sync', '--output', 'json']);
    expect(json(again.stdout).plan.ops).toEqual([]);
  });

  it("a source renamed: each conversation moves to its group's new key, none made twice", async () => {
    h = await startHarness({ groups: 3, membersPerGroup: 2 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const ids = [...h.wire.conversations.keys()].sort();
    h.writeConfig({ sources: [{ name: 'okta', type: 'scim', baseUrl: h.scim.baseUrl, auth: { type: 'bearer', tokenFile: './scim-token' } }] });
    const moved = await h.cli(['sync', '--output', 'json']);
    expect(moved.code, moved.stderr).toBe(0);
    expect(json(moved.stdout).plan.ops.map((o) => `${o.op} ${o.key}`)).toEqual(h.directory.groups.map((g) => `rebind group:okta:${g.id}`).sort());
    expect([...h.wire.conversations.keys()].sort()).toEqual(ids);
    expect(json((await h.cli(['sync', '--output', 'json'])).stdout).plan.ops).toEqual([]);
  });

  it('a group that leaves and comes back between runs keeps its conversation', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 2 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const [g] = h.directory.groups;
    const before = h.wire.conversations.size;
    h.scim.deleteGroup(g!.id);
    expect((await h.cli(['sync'])).code).toBe(0);
    h.scim.addGroup(g!);
    const back = await h.cli(['sync', '--output', 'json']);
    expect(back.code, back.stderr).toBe(0);
    expect(json(back.stdout).plan.ops.map((o) => o.op)).toEqual(['rebind']);
    expect(h.wire.conversations.size).toBe(before);
  });
});

describe('guards hold across pushes (the real daemon)', () => {
  let h: Harness;
  let d: Daemon | undefined;
  afterEach(async () => {
    await d?.stop();
    d = undefined;
    await h?.close();
  });
  const lastRun = () => lastRunOf(h);
  const pushed = (send: () => Promise<unknown>) => afterPush(h, send);

  it('a delete a push run held stays held in the next scheduled full run until approved', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 1, users: 4 });
    d = await startDaemon(h, {
      mappings: [{ ...MAPPING, onGroupRemoved: 'delete' }],
      guards: { ...GUARDS, maxRemovalRatio: 1, maxDeletesPerRun: 2, window: '1h' },
    });
    const user = h.directory.users[0]!;
    const uid = (await scim(d, 'POST', '/Users', { schemas: [USER], userName: user.email, externalId: user.externalId, active: true })).json.id as string;
    const groups: string[] = [];
    for (let i = 0; i < 3; i++)
      groups.push((await scim(d, 'POST', '/Groups', { schemas: [GROUP], displayName: `team-p${i}`, members: [{ value: uid }] })).json.id as string);
    await until(() => wireState(h.wire, h.botId).size === 3, 'three conversations');
    for (const id of groups) await pushed(() => scim(d!, 'DELETE', `/Groups/${id}`));
    expect(wireState(h.wire, h.botId).size).toBe(1);
    const held = lastRun().id;
    expect(await d.stop()).toBe(0);
    d = undefined;
    // the scheduled full run alone has one delete, under the limit: still held, as run `held` said
    const full = await h.cli(['sync']);
    expect(full.code, full.stdout).toBe(3);
    expect(full.stdout).toContain(`held back by guards since run ${held}`);
    expect(wireState(h.wire, h.botId).size).toBe(1);
    expect((await h.cli(['approve', String(held)])).code).toBe(0);
    expect(wireState(h.wire, h.botId).size).toBe(0);
    expect((await h.cli(['sync'])).code).toBe(0);
  }, 60_000);

  it('the removal ratio counts the removals of the window: a conversation is not emptied one push at a time', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 1, users: 12 });
    d = await startDaemon(h, { mappings: [MAPPING], guards: { ...GUARDS, maxRemovalRatio: 0.2, removalRatioMinMembers: 10, window: '1h' } });
    const ids: string[] = [];
    for (const u of h.directory.users.slice(0, 10))
      ids.push((await scim(d, 'POST', '/Users', { schemas: [USER], userName: u.email, externalId: u.externalId, active: true })).json.id as string);
    const gid = (await scim(d, 'POST', '/Groups', { schemas: [GROUP], displayName: 'team-x', members: ids.map((value) => ({ value })) })).json.id as string;
    await until(() => (wireState(h.wire, h.botId).get('Team x')?.length ?? 0) === 10, 'ten members');
    for (const id of ids.slice(0, 5))
      await pushed(() => scim(d!, 'PATCH', `/Groups/${gid}`, { schemas: [PATCH], Operations: [{ op: 'remove', path: `members[value eq "${id}"]` }] }));
    // two of ten (20 %) may go; the third would make 30 %
    expect(wireState(h.wire, h.botId).get('Team x')).toHaveLength(8);
  }, 60_000);

  it('ten groups deleted one push at a time with maxDeletesPerRun 2: two deleted, the rest held until approved', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 1, users: 4 });
    d = await startDaemon(h, {
      mappings: [{ ...MAPPING, onGroupRemoved: 'delete' }],
      guards: { ...GUARDS, maxRemovalRatio: 1, maxDeletesPerRun: 2, window: '1h' },
    });
    const user = h.directory.users[0]!;
    const uid = (await scim(d, 'POST', '/Users', { schemas: [USER], userName: user.email, externalId: user.externalId, active: true })).json.id as string;
    const groups: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await scim(d, 'POST', '/Groups', { schemas: [GROUP], displayName: `team-p${i}`, members: [{ value: uid }] });
      groups.push(res.json.id as string);
    }
    await until(() => wireState(h.wire, h.botId).size === 10, 'ten conversations');
    const store = () => Store.open(join(h.dir, 'convsync.db'));
    for (const id of groups) await pushed(async () => expect((await scim(d!, 'DELETE', `/Groups/${id}`)).status).toBe(204));
    expect(h.wire.conversations.size).toBe(8);
    expect(await d.stop()).toBe(0);
    d = undefined;
    const s = store();
    const quarantined = s.runs.recent(30).filter((r) => r.result === 'quarantined');
    s.close();
    expect(quarantined).toHaveLength(8);

    // one held run approved: its delete goes, the others stay held
    const approved = await h.cli(['approve', String(quarantined[0]!.id)]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(h.wire.conversations.size).toBe(7);
    // a full run counts all seven against the per-run limit: held again
    expect((await h.cli(['sync'])).code).toBe(3);
    expect((await h.cli(['sync', '--allow-removals'])).code).toBe(0);
    expect(h.wire.conversations.size).toBe(0);
  }, 60_000);
});

describe('one id form, and one bad user never blocks the others', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('ids written with upper case and the own domain: exact removals, a refresh changes nothing, protect holds', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 4 });
    for (const u of h.scim.users.values()) u.externalId = `${u.externalId.toUpperCase()}@${h.wire.domain.toUpperCase()}`;
    const [eng] = h.directory.groups;
    const boss = h.directory.users.find((u) => u.id === eng!.members[1]!.value)!;
    const protect = [`${h.wireId(boss.id).toUpperCase()}@${h.wire.domain}`];
    h.writeConfig({ mappings: [{ ...MAPPING, remove: 'authoritative' }], guards: { ...GUARDS, protect } });
    expect((await h.cli(['sync'])).code).toBe(0);
    const lower = (id: string) => id.split('@')[0]!.toLowerCase();
    const desired = () => new Map([...desiredState(h.scim, (id) => lower(h.scim.users.get(id)!.externalId))]);
    expect(wireState(h.wire, h.botId)).toEqual(desired());
    const writes = h.wire.writeCalls().length;
    const refresh = await h.cli(['sync', '--refresh', '--output', 'json']);
    expect(refresh.code, refresh.stderr).toBe(0);
    expect(json(refresh.stdout).plan.ops).toEqual([]);
    expect(h.wire.writeCalls().length).toBe(writes);

    // one member leaves the group, and the protected one too: exactly the first is removed
    h.scim.removeMember(eng!.id, eng!.members[0]!.value);
    h.scim.removeMember(eng!.id, boss.id);
    const res = await h.cli(['sync', '--output', 'json']);
    expect(res.code, res.stderr).toBe(0);
    const removes = json(res.stdout).plan.ops.filter((o) => o.op === 'remove') as unknown as { members: string[] }[];
    expect(removes.flatMap((o) => o.members)).toEqual([h.wireId(eng!.members[0]!.value)]);
    const kept = wireState(h.wire, h.botId).get('Team eng')!;
    expect(kept).toContain(h.wireId(boss.id));
    expect(kept).toHaveLength(3);
  });

  it('five valid users and one unknown: a conversation with the five and a warning naming the sixth, not retried', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 5, users: 5 });
    const stranger = '0f0e0d0c-0b0a-4000-8000-0123456789ab';
    h.scim.addUser({ id: 'u-stranger', userName: 'stranger', displayName: 'Stranger', email: 'stranger@example.com', externalId: stranger, active: true });
    h.scim.addMember(h.directory.groups[0]!.id, 'u-stranger');
    const first = await h.cli(['sync']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`user ${stranger} refused by wire (access-denied)`);
    const members = wireState(h.wire, h.botId).get('Team eng')!;
    expect(members).toHaveLength(5);
    expect(members).not.toContain(stranger);
    const writes = h.wire.writeCalls().length;
    const second = await h.cli(['sync', '--output', 'json']);
    expect(second.code, second.stderr).toBe(0);
    expect(json(second.stdout).plan.ops).toEqual([]);
    expect(json(second.stdout).plan.warnings.join('\n')).toMatch(
      new RegExp(`1 user\\(s\\) refused by the backend lately, not added: ${stranger} \\(access-denied\\)`),
    );
    expect(h.wire.writeCalls().length).toBe(writes);
    const status = await h.cli(['status']);
    expect(status.stdout).toContain(stranger);
    // offered again once identity.cacheTtlHours is over: status no longer lists the user
    await new Promise((r) => setTimeout(r, 400));
    expect((await h.cli(['status', '--set', 'identity.cacheTtlHours=0.0001'])).stdout).not.toContain(stranger);
  });
});

describe('a dry run makes no mutating call, on any backend', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });
  for (const backend of ['wire', 'protocol', 'mixin'] as const) {
    it(`${backend}: sync --dry-run, plan and explain write nothing; apply of the saved plan does`, async () => {
      h = await startHarness({ backend, groups: 3, membersPerGroup: 3, users: 12 });
      if (backend === 'protocol') {
        h.writeConfig({
          identity: { from: 'userName', lookup: 'handle', phoneFrom: 'externalId' },
          backend: {
            type: 'protocol',
            baseUrl: h.protocol!.baseUrl,
            auth: { type: 'bearer', tokenFile: './protocol-token' },
            contacts: { matchOn: 'username', create: true },
          },
        });
      }
      expect((await h.cli(['sync'])).code).toBe(0);
      const [eng, ops] = h.directory.groups;
      h.scim.removeMember(eng!.id, eng!.members[0]!.value);
      h.scim.addMember(eng!.id, h.directory.users[11]!.id);
      h.scim.renameGroup(ops!.id, 'team-platform');
      h.scim.addGroup({ id: 'g-new', displayName: 'team-new', members: [{ value: h.directory.users[10]!.id, type: 'User' }] });
      if (backend === 'protocol') {
        // a user with no contact yet: made only on apply
        h.scim.addUser({ id: 'u-fresh', userName: 'fresh', displayName: 'Fresh', email: 'fresh@example.com', externalId: '+4930111', active: true });
        h.scim.addMember(eng!.id, 'u-fresh');
      }
      const all = () => (backend === 'wire' ? h.wire.writeCalls() : backend === 'mixin' ? h.mixin!.calls.filter((c) => c.write) : h.protocol!.writeCalls());
      const before = all().length;
      const dry = await h.cli(['sync', '--dry-run', '--output', 'json']);
      expect(dry.code, dry.stderr).toBe(0);
      const planned = json(dry.stdout)
        .plan.ops.map((o) => o.op)
        .sort();
      expect(planned).toEqual(expect.arrayContaining(['add', 'create', 'remove', 'rename']));
      if (backend === 'protocol') expect(planned).toContain('contact');
      const file = join(h.dir, 'plan.json');
      expect((await h.cli(['plan', '--out', file])).code).toBe(0);
      expect((await h.cli(['explain', '--user', h.directory.users[11]!.userName])).code).toBe(0);
      expect(all().length).toBe(before);
      const applied = await h.cli(['apply', file]);
      expect(applied.code, applied.stderr).toBe(0);
      expect(all().length).toBeGreaterThan(before);
      if (backend === 'protocol') expect([...h.protocol!.contacts.values()].filter((c) => c.username === 'fresh')).toHaveLength(1);
      // what the saved plan could not hold (the new contact's membership) follows at the next sync
      expect((await h.cli(['sync'])).code).toBe(0);
      expect(h.chatState()).toEqual(
        desiredState(h.scim, (id) => (id === 'u-fresh' ? [...h.protocol!.contacts.values()].find((c) => c.username === 'fresh')!.id : h.chatId(id))),
      );
    });
  }
});
