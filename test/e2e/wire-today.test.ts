import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BOT_EMAIL, desiredState, startHarness, wireState, type Harness } from '../helpers/harness.js';

/** Wire as it is today (API v6–v15, MLS, channels, team apps): the real CLI against the Wire sandbox. */
const CHANNELS = { features: { channels: true, mls: true } };
const wireBackend = (h: Harness, extra: Record<string, unknown> = {}) => ({
  backend: { type: 'wire', baseUrl: h.wire.url, email: BOT_EMAIL, passwordFile: './wire-password', teamId: h.wire.teamId, ...extra },
});
const json = (stdout: string) =>
  JSON.parse(stdout) as {
    exitCode: number;
    plan: { ops: { op: string; key: string }[]; blocked: { kind: string }[]; warnings: string[]; summary: Record<string, number> };
  };

describe('Wire today', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('group mode: a group a member migrates to MLS is reported unmanageable, not retried; migrate-to-channels moves it', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 3, users: 8, wire: CHANNELS });
    expect((await h.cli(['sync'])).code).toBe(0);
    const [eng] = h.directory.groups;
    const engId = [...h.wire.conversations.values()].find((c) => c.name === 'Team eng')!.id;
    h.wire.migrateConversation(engId, 'mixed');
    h.wire.migrateConversation(engId, 'mls');
    // a change: the add is refused with 403 invalid-op, the conversation recorded as unmanageable
    h.scim.addMember(eng!.id, h.directory.users[7]!.id);
    h.scim.removeMember(eng!.id, eng!.members[0]!.value);
    const refused = await h.cli(['sync']);
    expect(refused.code).toBe(1);
    const writes = h.wire.writeCalls().length;
    const again = await h.cli(['sync', '--refresh', '--output', 'json']);
    expect(again.code).toBe(1);
    const plan = json(again.stdout).plan;
    expect(plan.summary.unmanageable).toBe(1);
    expect(plan.warnings.join('\n')).toMatch(/Team eng.*MLS group conversation.*conversationType: channel.*migrate-to-channels/);
    expect(plan.blocked.filter((b) => b.kind === 'unmanageable').length).toBeGreaterThan(0);
    // nothing sent to it again, nobody taken as gone from it
    expect(h.wire.writeCalls().length).toBe(writes);
    expect(wireState(h.wire, h.botId).get('Team eng')).toHaveLength(3);
    const status = await h.cli(['status']);
    expect(status.stdout).toMatch(/cannot keep in line \(1\)/);

    // the remedy: channel mode (an admin), a dry run first, then the migration
    h.wire.users.get(h.botId)!.role = 'admin';
    h.writeConfig(wireBackend(h, { conversationType: 'channel' }));
    const before = h.wire.conversations.size;
    const dry = await h.cli(['migrate-to-channels', '--dry-run', '--output', 'json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(json(dry.stdout).plan.ops.filter((o) => o.op === 'create')).toHaveLength(2);
    expect(h.wire.conversations.size).toBe(before);
    // the answer to the first channel's create is lost: looked for and adopted, never made twice
    h.wire.loseResponses({ method: 'POST', path: /^\/v\d+\/conversations$/, as: 'drop' });
    const moved = await h.cli(['migrate-to-channels', '--old', 'rename']);
    expect(moved.code, moved.stderr).toBe(0);
    expect(h.wire.lost).toHaveLength(1);
    const channels = [...h.wire.conversations.values()].filter((c) => c.groupConvType === 'channel');
    expect(channels.map((c) => c.name).sort()).toEqual(['Team eng', 'Team ops']);
    expect([...h.wire.conversations.values()].filter((c) => c.name?.endsWith('(moved)'))).toHaveLength(2);
    // the next sync works on the channels: the pending directory change goes through
    const sync = await h.cli(['sync']);
    expect(sync.code, sync.stdout).toBe(0);
    const state = new Map(channels.map((c) => [c.name!, [...c.members.keys()].filter((m) => m !== h.botId).sort()]));
    for (const [name, members] of desiredState(h.scim, h.wireId)) expect(state.get(name), name).toEqual(members);
    // run again: nothing left to move, nothing made twice
    expect((await h.cli(['migrate-to-channels', '--output', 'json'])).stdout).toMatch(/"ops": \[\]/);
    expect(h.wire.violations).toEqual([]);
  }, 60_000);

  it('channel mode: checks the team first and says what to enable', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 2 });
    h.writeConfig(wireBackend(h, { conversationType: 'channel' }));
    const off = await h.cli(['validate', '--check-backend']);
    expect(off.code).toBe(1);
    expect(off.stderr).toMatch(/channels feature is disabled: a team owner enables Channels/);
    // a check before the first run leaves no store behind
    expect(existsSync(join(h.dir, 'convsync.db'))).toBe(false);
    h.wire.features.channels = true;
    h.wire.features.mls = true;
    const member = await h.cli(['sync']);
    expect(member.code).toBe(1);
    expect(member.stderr + member.stdout).toMatch(/not a team admin/);
    expect(h.wire.conversations.size).toBe(0);
    h.wire.users.get(h.botId)!.role = 'admin';
    expect((await h.cli(['validate', '--check-backend'])).code).toBe(0);
  });

  it('channel mode: MLS channels kept in line over REST, PUT …/members where it saves calls, people added by hand kept', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 4, users: 12, wire: CHANNELS });
    h.wire.users.get(h.botId)!.role = 'admin';
    h.writeConfig(wireBackend(h, { conversationType: 'channel' }));
    const first = await h.cli(['sync']);
    expect(first.code, first.stderr).toBe(0);
    const convs = [...h.wire.conversations.values()];
    expect(convs.every((c) => c.groupConvType === 'channel' && c.protocol === 'mls' && c.members.has(h.botId))).toBe(true);
    expect(wireState(h.wire, h.botId)).toEqual(desiredState(h.scim, h.wireId));
    const [eng] = h.directory.groups;
    const engConv = convs.find((c) => c.name === 'Team eng')!;
    const byHand = h.wire.addUser({ name: 'by hand' }).id;
    engConv.members.set(byHand, 'wire_member');
    for (const m of eng!.members.slice(0, 3)) h.scim.removeMember(eng!.id, m.value);
    h.scim.addMember(eng!.id, h.directory.users[11]!.id);
    h.scim.renameGroup(eng!.id, 'team-platform');
    const before = h.wire.calls.length;
    const res = await h.cli(['sync']);
    expect(res.code, res.stderr).toBe(0);
    const calls = h.wire.calls
      .slice(before)
      .filter((c) => c.write)
      .map(
        (c) =>
          `${c.method} ${c.path
            .replace(/\/v\d+/, '')
            .replace(/[0-9a-f-]{36}/g, 'ID')
            .replace(/sandbox\.wire\.test/g, 'D')}`,
      );
    // three removals and an add: one PUT with the whole list, and the rename
    expect(calls.sort()).toEqual(['PUT /conversations/D/ID/members', 'PUT /conversations/D/ID/name']);
    const members = [...engConv.members.keys()];
    expect(members).toContain(byHand);
    expect(members).toContain(h.botId);
    expect(
      wireState(h.wire, h.botId)
        .get('Team platform')!
        .filter((m) => m !== byHand),
    ).toEqual(desiredState(h.scim, h.wireId).get('Team platform'));
  });

  it("a team app's cookie: no login, renewed cookies kept and used after a restart, a revoked one explained", async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 2, wire: { faults: { renewCookieOnAccess: true } } });
    const app = h.wire.addApp({ name: 'convsync' });
    writeFileSync(join(h.dir, 'app-cookie'), `${app.cookie}\n`);
    h.writeConfig({ backend: { type: 'wire', baseUrl: h.wire.url, cookieFile: './app-cookie', teamId: h.wire.teamId } });
    const first = await h.cli(['sync']);
    expect(first.code, first.stderr).toBe(0);
    expect(h.wire.calls.filter((c) => c.path.endsWith('/login'))).toEqual([]);
    // Wire sent a new cookie with each /access and revokes the superseded ones: only the kept newest works
    h.wire.revokeCookies({ keepNewest: true });
    const second = await h.cli(['sync']);
    expect(second.code, second.stderr).toBe(0);
    // an admin issues a new cookie: every earlier one is revoked
    h.wire.refreshAppCookie(app.user.id);
    const revoked = await h.cli(['sync']);
    expect(revoked.code).toBe(1);
    expect(revoked.stderr + revoked.stdout).toMatch(/refused the cookie in backend\.cookieFile .*issues a new one/);
    expect(revoked.stderr + revoked.stdout).not.toContain(app.cookie);
  });

  it('password logins: 2FA and SSO accounts get a message that says what to do; a 429 waits for Retry-After', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 2, wire: { features: { sndFactorPasswordChallenge: true } } });
    const twoFactor = await h.cli(['sync']);
    expect(twoFactor.code).toBe(1);
    expect(twoFactor.stderr + twoFactor.stdout).toMatch(/second factor \(2FA\).*backend\.cookieFile/);
    h.wire.features.sndFactorPasswordChallenge = false;
    h.wire.users.get(h.botId)!.password = undefined;
    const sso = await h.cli(['sync']);
    expect(sso.code).toBe(1);
    expect(sso.stderr + sso.stdout).toMatch(/signs in through SSO has no password: use a team app/);
    h.wire.users.get(h.botId)!.password = 'harness-password';
    Object.assign(h.wire.faults, { loginBurst: 1, loginRefillSeconds: 4 });
    expect((await h.cli(['sync'])).code).toBe(0);
    const limited = await h.cli(['sync']);
    expect(limited.code, limited.stderr).toBe(0);
    expect(h.wire.calls.filter((c) => c.path.endsWith('/login') && c.status === 429).length).toBeGreaterThan(0);
  });
});
