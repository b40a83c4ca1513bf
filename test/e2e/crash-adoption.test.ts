import { afterEach, describe, expect, it } from 'vitest';
import { BOT_EMAIL, startCli, startHarness, until, type Harness } from '../helpers/harness.js';

/**
 * The CLI is killed while a create's answer is held back (the backend made it, the journal does not
 * say so), then the next run adopts what was made: never a second conversation, and nobody that
 * the conversation was made with is lost or taken for someone else.
 */
describe('adoption after a kill (the real CLI, SIGKILL)', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  const edits: Record<string, (g: { contacts: string[]; name: string }, extra: string) => void> = {
    'a contact added by hand': (g, extra) => g.contacts.push(extra),
    'renamed by hand': (g) => (g.name = `${g.name} (ops)`),
  };
  for (const [what, edit] of Object.entries(edits)) {
    it(`protocol: a group made before the kill and ${what} since is adopted by its marker, not made again`, async () => {
      h = await startHarness({ backend: 'protocol', groups: 1, membersPerGroup: 3, users: 8 });
      const p = h.protocol!;
      p.loseResponses({ method: 'POST', path: '/v1/groups', as: 'slow', delayMs: 60_000 });
      const run = startCli(['sync', '--config', h.configFile]);
      await until(() => p.groups.size === 1, 'the group is made');
      run.child.kill('SIGKILL');
      await run.done;
      const made = [...p.groups.values()][0]!;
      const extra = [...p.contacts.values()].find((c) => !made.contacts.includes(c.id))!.id;
      edit(made, extra);
      const next = await h.cli(['sync']);
      expect(next.code, next.stderr).toBe(0);
      expect([...p.groups.values()].filter((g) => g.archived_at === null)).toHaveLength(1);
      // renamed back to what the mapping says; someone added by hand stays
      expect(made.name).toBe([...h.chatState().keys()][0]);
      if (what.startsWith('a contact')) expect(made.contacts).toContain(extra);
    }, 30_000);
  }

  /** a Wire group with someone a person added (and, with `refused`, one more who has left the team since), to be moved to a channel */
  async function groupWithGuest(refused = false) {
    h = await startHarness({ groups: 1, membersPerGroup: 3, users: 8, wire: { features: { channels: true, mls: true } } });
    expect((await h.cli(['sync'])).code).toBe(0);
    const old = [...h.wire.conversations.values()][0]!;
    const [guest, gone] = h.directory.users.filter((u) => !old.members.has(u.externalId)).map((u) => u.externalId);
    old.members.set(guest!, 'wire_member');
    if (refused) {
      old.members.set(gone!, 'wire_member');
      // Wire refuses to add them: not connected
      h.wire.users.get(gone!)!.team = 'another-team';
    }
    h.wire.users.get(h.botId)!.role = 'admin';
    h.writeConfig({
      backend: { type: 'wire', baseUrl: h.wire.url, email: BOT_EMAIL, passwordFile: './wire-password', teamId: h.wire.teamId, conversationType: 'channel' },
    });
    const channel = () => [...h.wire.conversations.values()].find((c) => c.groupConvType === 'channel');
    return { guest: guest!, channel };
  }

  it('migrate-to-channels killed once the channel was made: the next run adopts it and brings in who was added by hand (but the one Wire refuses)', async () => {
    const { guest, channel } = await groupWithGuest(true);
    h.wire.loseResponses({ method: 'POST', path: /^\/v\d+\/conversations$/, as: 'slow', delayMs: 60_000 });
    const run = startCli(['migrate-to-channels', '--config', h.configFile]);
    await until(() => channel() !== undefined, 'the channel is made');
    run.child.kill('SIGKILL');
    await run.done;
    expect((await h.cli(['migrate-to-channels'])).code).toBe(0);
    const sync = await h.cli(['sync']);
    expect(sync.code, sync.stderr).toBe(0);
    expect([...h.wire.conversations.values()].filter((c) => c.groupConvType === 'channel')).toHaveLength(1);
    expect([...channel()!.members.keys()]).toContain(guest);
  }, 30_000);

  it('migrate-to-channels killed while filling the channel: who was added by hand stays, not removed by the next sync', async () => {
    const { guest, channel } = await groupWithGuest();
    h.wire.loseResponses({ method: 'POST', path: /^\/v\d+\/conversations\/[^/]+\/[^/]+\/members$/, as: 'slow', delayMs: 60_000 });
    const run = startCli(['migrate-to-channels', '--config', h.configFile]);
    await until(() => channel()?.members.has(guest) === true, 'the channel is filled');
    run.child.kill('SIGKILL');
    await run.done;
    const sync = await h.cli(['sync']);
    expect(sync.code, sync.stderr).toBe(0);
    expect([...channel()!.members.keys()]).toContain(guest);
  }, 30_000);
});
