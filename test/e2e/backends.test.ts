import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { groupConversationId } from '../../src/backends/mixin/ids.js';
import { Store } from '../../src/store/store.js';
import { desiredState, startHarness, type Harness, type HarnessOptions } from '../helpers/harness.js';

/**
 * One scenario table, every backend, the real CLI over real HTTP against that backend's sandbox.
 * The backends differ only in their adapters: the plan, the reconciler and these expectations
 * are the same.
 */
const BACKENDS: { name: 'wire' | 'protocol' | 'mixin'; label?: string; extra?: HarnessOptions; faults: (on: boolean) => HarnessOptions }[] = [
  { name: 'wire', faults: (on) => ({ wire: { faults: on ? { throttleEvery: 3, errorRatio: 0.2, retryAfterSeconds: 0, lostResponseRatio: 0.2 } : {} } }) },
  // Wire channels: MLS channels run by a team admin
  {
    name: 'wire',
    label: 'wire channels',
    extra: { wireChannels: true },
    faults: (on) => ({ wire: { faults: on ? { throttleEvery: 3, errorRatio: 0.2, retryAfterSeconds: 0, lostResponseRatio: 0.2 } : {} } }),
  },
  { name: 'protocol', faults: (on) => ({ protocolFaults: on ? { throttleEvery: 3, errorRatio: 0.2, retryAfterSeconds: 0, lostResponseRatio: 0.2 } : {} }) },
  { name: 'mixin', faults: (on) => ({ mixinFaults: on ? { throttleEvery: 3, errorRatio: 0.2, lostResponseRatio: 0.2 } : {} }) },
];

for (const backend of BACKENDS) {
  describe(`scenarios on ${backend.label ?? backend.name}`, () => {
    let h: Harness;
    afterEach(async () => {
      await h?.close();
    });
    const start = (o: HarnessOptions) => startHarness({ backend: backend.name, ...backend.extra, ...o });
    const desired = () => desiredState(h.scim, h.chatId);

    it('initial sync; a second sync with no change writes nothing', async () => {
      h = await start({ groups: 3, membersPerGroup: 4 });
      const first = await h.cli(['sync']);
      expect(first.code, first.stderr).toBe(0);
      expect(h.chatState()).toEqual(desired());
      const writes = h.chatWrites().length;
      expect((await h.cli(['sync'])).code).toBe(0);
      expect(h.chatWrites().length).toBe(writes);
      expect(h.chatViolations()).toEqual([]);
    });

    it('leave, join, rename and group removed, with the minimum write calls', async () => {
      h = await start({ groups: 3, membersPerGroup: 4, users: 14 });
      expect((await h.cli(['sync'])).code).toBe(0);
      const [eng, ops, sales] = h.directory.groups;
      h.scim.removeMember(eng!.id, eng!.members[0]!.value);
      h.scim.removeMember(eng!.id, eng!.members[1]!.value);
      for (const u of h.directory.users.slice(12, 14)) h.scim.addMember(eng!.id, u.id);
      h.scim.renameGroup(ops!.id, 'team-platform');
      h.scim.addMember(ops!.id, h.directory.users[13]!.id);
      h.scim.deleteGroup(sales!.id);
      const before = h.chatWrites().length;
      const res = await h.cli(['sync']);
      expect(res.code, res.stderr).toBe(0);
      const version = backend.name === 'wire' ? /^\/v\d+\// : /^$/;
      const writes = h
        .chatWrites()
        .slice(before)
        .map((c) => `${c.method} ${c.path.replace(version, '/vN/').replace(/[0-9a-zA-Z-]{16,}/g, 'ID')}`);
      const state = h.chatState();
      expect(state.get('Team eng')).toEqual(desired().get('Team eng'));
      expect(state.get('Team platform')).toEqual(desired().get('Team platform'));
      if (backend.label === 'wire channels') {
        // Wire channels (v13+): the two removals and the add of one channel in one PUT …/members, the other add, the rename
        expect(writes.sort()).toEqual(
          [
            'POST /vN/conversations/sandbox.wire.test/ID/members',
            'PUT /vN/conversations/sandbox.wire.test/ID/members',
            'PUT /vN/conversations/sandbox.wire.test/ID/name',
          ].sort(),
        );
        expect(state.get('Team sales')).toHaveLength(4); // kept, unbound
      } else if (backend.name === 'wire') {
        // Wire: one add per conversation, one DELETE per removed member, the rename, nothing for an unbind
        expect(writes.sort()).toEqual(
          [
            'DELETE /vN/conversations/sandbox.wire.test/ID/members/sandbox.wire.test/ID',
            'DELETE /vN/conversations/sandbox.wire.test/ID/members/sandbox.wire.test/ID',
            'POST /vN/conversations/sandbox.wire.test/ID/members',
            'POST /vN/conversations/sandbox.wire.test/ID/members',
            'PUT /vN/conversations/sandbox.wire.test/ID/name',
          ].sort(),
        );
        expect(state.get('Team sales')).toHaveLength(4); // kept, unbound
      } else if (backend.name === 'mixin') {
        // Mixin: one REMOVE and one ADD per conversation (one batch), the rename; a conversation cannot be deleted
        expect(writes.sort()).toEqual(
          [
            'POST /conversations/ID',
            'POST /conversations/ID/participants/ADD',
            'POST /conversations/ID/participants/ADD',
            'POST /conversations/ID/participants/REMOVE',
          ].sort(),
        );
        expect(state.get('Team sales')).toHaveLength(4); // kept, unbound
      } else {
        // Protocol: one PUT per changed group (members and name together), the removed group archived
        expect(writes.sort()).toEqual(['PUT /v1/conversations/ID', 'PUT /v1/groups/ID', 'PUT /v1/groups/ID', 'PUT /v1/groups/ID'].sort());
        expect(state.has('Team sales')).toBe(false);
        expect([...h.protocol!.groups.values()].find((g) => g.name === 'Team sales')!.archived_at).not.toBeNull();
      }
      expect(h.chatViolations()).toEqual([]);
    });

    it('renews (or signs afresh) under a 2-second credential lifetime while applying', async () => {
      const short: HarnessOptions =
        backend.name === 'wire'
          ? { wire: { faults: { tokenLifetimeSeconds: 2, latencyMs: 40 } } }
          : backend.name === 'protocol'
            ? { protocolOAuthSeconds: 2, protocolFaults: { latencyMs: 40 } }
            : { mixinFaults: { latencyMs: 40 } };
      h = await start({ groups: 60, membersPerGroup: 3, users: 60, ...short });
      if (backend.name === 'mixin') {
        const c = h.writeConfig;
        c({
          backend: { type: 'mixin', baseUrl: h.mixin!.url, keystoreFile: './mixin-keystore.json', tokenLifetimeSeconds: 2 },
          reconcile: { concurrency: 1, ratePerSecond: 1000, burst: 50 },
        });
      } else h.writeConfig({ reconcile: { concurrency: 1, ratePerSecond: 1000, burst: 50 } });
      const res = await h.cli(['sync']);
      expect(res.code, res.stderr).toBe(0);
      expect(h.chatState()).toEqual(desired());
      if (backend.name === 'wire') expect(h.wire.calls.filter((c) => c.path === '/access' && c.status === 200).length).toBeGreaterThan(0);
      if (backend.name === 'protocol') expect(h.protocol!.calls.filter((c) => c.path === '/oauth/token').length).toBeGreaterThan(1);
      // Mixin: each call carried its own JWT; the sandbox refuses an expired or reused one (violations)
      if (backend.name === 'mixin') expect(h.mixin!.calls.filter((c) => c.code === 0).length).toBeGreaterThan(60);
      expect(h.chatViolations()).toEqual([]);
    });

    it('converges through throttling storms (Retry-After), 5xx bursts and lost answers, with nothing made twice', async () => {
      h = await start({ groups: 20, membersPerGroup: 5, users: 60, ...backend.faults(true) });
      // besides one answer in five lost at random, the first create's for sure
      const lossy = backend.name === 'wire' ? h.wire : backend.name === 'mixin' ? h.mixin! : h.protocol!;
      lossy.loseResponses({
        method: 'POST',
        path: backend.name === 'wire' ? /^\/v\d+\/conversations$/ : backend.name === 'mixin' ? '/conversations' : '/v1/groups',
        as: 502,
      });
      // a 5xx on a create may come after it was made: what is not found stays pending for the next run
      let res = await h.cli(['sync']);
      for (let run = 1; run < 8 && res.code !== 0; run++) res = await h.cli(['sync']);
      expect(res.code, res.stderr + res.stdout).toBe(0);
      expect(h.chatState()).toEqual(desired());
      const calls: { status: number; code?: number }[] = backend.name === 'wire' ? h.wire.calls : backend.name === 'mixin' ? h.mixin!.calls : h.protocol!.calls;
      expect(calls.filter((c) => c.status === 420 || c.status === 429 || c.code === 429).length).toBeGreaterThan(5);
      expect(calls.filter((c) => c.status >= 500).length).toBeGreaterThan(0);
      expect(lossy.lost.length).toBeGreaterThan(0);
      const made = backend.name === 'wire' ? h.wire.conversations.size : backend.name === 'mixin' ? h.mixin!.conversations.size : h.protocol!.groups.size;
      expect(made).toBe(20);
    });

    it('a crash between "create sent" and "create recorded" leaves no duplicate', async () => {
      h = await start({ groups: 2, membersPerGroup: 3 });
      expect((await h.cli(['sync'])).code).toBe(0);
      h.scim.addGroup({ id: 'g-late', displayName: 'team-late', members: [{ value: h.directory.users[0]!.id, type: 'User' }] });
      // what the crash leaves: the create journaled as pending, the conversation made on the backend
      const member = h.chatId(h.directory.users[0]!.id);
      const randomId = '0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f';
      const prepared = backend.name === 'mixin' ? { randomId, conversationId: groupConversationId(h.mixinBot!, 'Team late', [member], randomId) } : undefined;
      const store = Store.open(join(h.dir, 'convsync.db'));
      store.journal.pending(store.runs.start('sync'), {
        op: 'create',
        key: 'group:corp:g-late',
        name: 'Team late',
        members: [member],
        groups: ['corp:g-late'],
        onGroupRemoved: 'keep',
        reason: 'test',
        ...(prepared ? { prepared } : {}),
      });
      store.close();
      if (backend.name === 'mixin') {
        h.mixin!.conversations.set(prepared!.conversationId, {
          conversation_id: prepared!.conversationId,
          creator_id: h.mixinBot!,
          category: 'GROUP',
          name: 'Team late',
          announcement: '',
          random_id: randomId,
          participants: new Map([
            [h.mixinBot!, 'OWNER'],
            [member, ''],
          ]),
          created_at: new Date().toISOString(),
        });
      } else if (backend.name === 'wire') {
        const bot = [...h.wire.users.values()].find((u) => u.email === 'sync-bot@example.com')!;
        h.wire.conversations.set('5f0e4a0b-5a5c-4a4b-9a3b-1a2b3c4d5e6f', {
          id: '5f0e4a0b-5a5c-4a4b-9a3b-1a2b3c4d5e6f',
          name: 'Team late',
          creator: bot.id,
          team: h.wire.teamId,
          type: 0,
          access: ['invite'],
          accessRole: ['team_member'],
          protocol: 'proteus',
          members: new Map([
            [bot.id, 'wire_admin'],
            [h.chatId(h.directory.users[0]!.id), 'wire_member'],
          ]),
        });
      } else {
        h.protocol!.groups.set('LateGroup0000001', {
          id: 'LateGroup0000001',
          name: 'Team late',
          description: 'managed by convsync',
          avatar_url: null,
          conversation_id: null,
          contacts: [h.chatId(h.directory.users[0]!.id)],
          created_at: Math.floor(Date.now() / 1000),
          archived_at: null,
        });
      }
      const res = await h.cli(['sync']);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toMatch(/Recovered 1 op\(s\) left pending by an interrupted run \(1 conversation\(s\) adopted\)/);
      expect(h.chatState().get('Team late')).toEqual([h.chatId(h.directory.users[0]!.id)]); // throws on a duplicate name
    });
  });
}
