import { setTimeout as sleep } from 'node:timers/promises';
import { rawCall, type Method } from '../helpers/raw-http.js';
import { afterEach, describe, expect, it } from 'vitest';
import { WireSandbox, type WireSandboxOptions } from '../../src/sandbox/wire/server.js';

/**
 * Credentials in the Wire fake as Wire is today (reference/wire-api-2026.md §4): team apps and
 * their cookies, SSO users, 2FA and the per-user password rate limit. Driven over raw HTTP.
 */
let wire: WireSandbox;
afterEach(async () => wire?.stop());

const call = (method: Method, path: string, body?: unknown, token?: string | null, headers: Record<string, string> = {}) =>
  rawCall(wire.url, method, path, body, token, headers);

const login = (body: Record<string, unknown>, v = 9) => call('POST', `/v${v}/login?persist=true`, body, null);
const access = (cookie: string) => call('POST', '/access', undefined, null, { cookie: `zuid=${cookie}` });

async function start(opts: WireSandboxOptions = {}) {
  wire = await WireSandbox.start(opts);
  const admin = wire.addUser({ email: 'admin@example.com', password: 'password1', role: 'admin' });
  const member = wire.addUser({ email: 'member@example.com', password: 'password2' });
  const adminToken = (await login({ email: 'admin@example.com', password: 'password1' })).json.access_token as string;
  const memberToken = (await login({ email: 'member@example.com', password: 'password2' })).json.access_token as string;
  return { admin, member, adminToken, memberToken };
}

const newApp = { name: 'convsync', category: 'other', description: 'keeps conversations in sync', password: 'password1' };

describe('team apps (v12+)', () => {
  it('lets an admin create an app: a team member with role member, no password, and a persistent cookie for /access', async () => {
    const { adminToken, memberToken } = await start();
    const apps = `/v12/teams/${wire.teamId}/apps`;
    expect((await call('POST', apps, { name: 'x' }, adminToken)).json).toMatchObject({ code: 400, label: 'bad-request' });
    expect((await call('POST', apps, { ...newApp, description: 'd'.repeat(301) }, adminToken)).json).toMatchObject({ code: 400, label: 'bad-request' });
    expect((await call('POST', apps, { ...newApp, password: 'wrong-password' }, adminToken)).json).toMatchObject({ code: 403, label: 'invalid-credentials' });
    expect((await call('POST', apps, { ...newApp, password: 'password2' }, memberToken)).json).toEqual({
      code: 403,
      label: 'app-no-permission',
      message: 'User does not have permission to create or manage apps',
    });
    expect((await call('POST', `/v12/teams/00000000-0000-4000-8000-000000000000/apps`, newApp, adminToken)).json).toMatchObject({ label: 'app-no-permission' });

    const created = await call('POST', apps, newApp, adminToken);
    expect(created.status).toBe(200);
    expect(created.json.cookie).toEqual(expect.any(String));
    expect(created.json.user).toMatchObject({ name: 'convsync', team: wire.teamId, type: 'app', app: { category: 'other' }, supported_protocols: ['mls'] });
    const appId = created.json.user.qualified_id.id as string;
    expect(wire.users.get(appId)).toMatchObject({ role: 'member', type: 'app', team: wire.teamId });
    expect(wire.users.get(appId)!.password).toBeUndefined();

    const renewed = await access(created.json.cookie);
    expect(renewed.status).toBe(200);
    expect(renewed.json).toMatchObject({ user: appId, token_type: 'Bearer' });
    const self = await call('GET', '/v15/self', undefined, renewed.json.access_token);
    expect(self.json).toMatchObject({ qualified_id: { id: appId }, type: 'app' });
    // it is a team member: it may create group conversations and list the team
    const conv = await call('POST', '/v15/conversations', { name: 'by app', team: { teamid: wire.teamId, managed: false } }, renewed.json.access_token);
    expect(conv.status).toBe(201);
    // the renewal the fake models for user cookies holds for app cookies (persistent)
    wire.faults.renewCookieOnAccess = true;
    expect(String((await access(created.json.cookie)).headers['set-cookie'])).toMatch(/^zuid=[^;]+; Path=\/access; Expires=/);
  });

  it('refreshes an app cookie for an admin who re-authenticates, revoking every earlier cookie', async () => {
    const { adminToken, memberToken } = await start();
    const created = await call('POST', `/v15/teams/${wire.teamId}/apps`, newApp, adminToken);
    const appId = created.json.user.qualified_id.id as string;
    const path = `/v15/teams/${wire.teamId}/apps/${appId}/cookies`;
    expect((await call('POST', path, undefined, adminToken)).json).toMatchObject({ code: 400, label: 'bad-request' });
    expect((await call('POST', path, {}, adminToken)).json).toMatchObject({ code: 403, label: 'app-no-permission' });
    expect((await call('POST', path, { password: 'wrong-password' }, adminToken)).json).toMatchObject({ code: 403, label: 'app-no-permission' });
    expect((await call('POST', path, { password: 'password2' }, memberToken)).json).toMatchObject({ code: 403, label: 'app-no-permission' });
    expect(
      (await call('POST', `/v15/teams/${wire.teamId}/apps/00000000-0000-4000-8000-000000000000/cookies`, { password: 'password1' }, adminToken)).json,
    ).toMatchObject({
      code: 404,
      label: 'app-not-found',
    });
    const refreshed = await call('POST', path, { password: 'password1' }, adminToken);
    expect(refreshed.status).toBe(200);
    expect(refreshed.json).toEqual({ cookie: expect.any(String) });
    expect((await access(created.json.cookie)).json).toMatchObject({ code: 403, label: 'invalid-credentials' });
    expect((await access(refreshed.json.cookie)).status).toBe(200);
  });

  it('has hooks for tests: addApp and refreshAppCookie', async () => {
    await start();
    const { user, cookie } = wire.addApp({ name: 'bot' });
    expect(user).toMatchObject({ type: 'app', role: 'member', team: wire.teamId });
    expect((await access(cookie)).json.user).toBe(user.id);
    const next = wire.refreshAppCookie(user.id);
    expect((await access(cookie)).json).toMatchObject({ code: 403, label: 'invalid-credentials' });
    expect((await access(next)).status).toBe(200);
    expect(() => wire.refreshAppCookie([...wire.users.values()].find((u) => u.email === 'admin@example.com')!.id)).toThrow(/not an app/);
  });
});

describe('password logins', () => {
  it('refuses an SSO-provisioned user without a password with 403 invalid-credentials', async () => {
    await start();
    wire.addUser({ email: 'sso@example.com', sso: true });
    expect((await login({ email: 'sso@example.com', password: 'whatever1' })).json).toEqual({
      code: 403,
      label: 'invalid-credentials',
      message: 'Authentication failed',
    });
  });

  it('asks for the 2FA code when the team feature is on; SSO users are exempt; /access is not affected', async () => {
    await start();
    // (its own label: a later login with the same label would revoke it)
    const cookie = /zuid=([^;]+)/.exec(
      String((await login({ email: 'member@example.com', password: 'password2', label: 'daemon' })).headers['set-cookie']),
    )![1]!;
    wire.features.sndFactorPasswordChallenge = true;
    expect((await login({ email: 'member@example.com', password: 'password2' })).json).toEqual({
      code: 403,
      label: 'code-authentication-required',
      message: 'Code authentication is required',
    });
    // the password is checked first
    expect((await login({ email: 'member@example.com', password: 'wrong-password' })).json.label).toBe('invalid-credentials');
    expect((await login({ email: 'member@example.com', password: 'password2', verification_code: '123456' })).json).toMatchObject({
      code: 403,
      label: 'code-authentication-failed',
    });
    const member = [...wire.users.values()].find((u) => u.email === 'member@example.com')!;
    const code = wire.verificationCode(member.id);
    expect((await login({ email: 'member@example.com', password: 'password2', verification_code: code })).status).toBe(200);
    wire.addUser({ email: 'saml@example.com', password: 'password3', sso: true });
    expect((await login({ email: 'saml@example.com', password: 'password3' })).status).toBe(200);
    expect((await access(cookie)).status).toBe(200);
    expect(
      (await call('GET', `/v9/teams/${wire.teamId}/features/sndFactorPasswordChallenge`, undefined, (await access(cookie)).json.access_token)).json,
    ).toMatchObject({
      status: 'enabled',
    });
  });

  it('limits password checks per user: a burst, then one per refill, 429 too-many-requests with Retry-After', async () => {
    await start({ faults: { loginBurst: 3, loginRefillSeconds: 60 } });
    const ok = () => login({ email: 'member@example.com', password: 'password2' });
    // start() used one of the member's three
    expect((await login({ email: 'member@example.com', password: 'wrong-password' })).status).toBe(403);
    expect((await ok()).status).toBe(200);
    const limited = await ok();
    expect(limited.status).toBe(429);
    expect(limited.json).toEqual({ code: 429, label: 'too-many-requests', message: 'Please try again later.' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(59);
    // per user: the admin still has two left
    expect((await login({ email: 'admin@example.com', password: 'password1' })).status).toBe(200);
    // an unknown user or one without a password costs nothing, and is refused as before
    expect((await login({ email: 'nobody@example.com', password: 'password2' })).status).toBe(403);
    wire.faults.loginRefillSeconds = 0.05;
    await sleep(120);
    expect((await ok()).status).toBe(200);
  });

  it('keeps no limit by default, as before', async () => {
    await start();
    for (let i = 0; i < 12; i++) expect((await login({ email: 'member@example.com', password: 'password2' })).status).toBe(200);
  });
});
