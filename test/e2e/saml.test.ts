import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startCli, startHarness, until, type Harness } from '../helpers/harness.js';
import { authnRequestOf, testIdp } from '../helpers/saml-idp.js';

const SYNC_TOKEN = 'saml-e2e-sync-token';

describe('SAML source in the real daemon, combined with SCIM pull for the same groups (Wire sandbox)', () => {
  let h: Harness;
  let stop: (() => Promise<unknown>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
    await h?.close();
  });

  it('adds a user at login, leaves the SCIM members alone, and removes the user when the membership expires', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 3, users: 8 });
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    const idp = testIdp({ entityId: `${publicUrl}/saml/metadata`, acsUrl: `${publicUrl}/saml/acs` });
    writeFileSync(join(h.dir, 'idp.xml'), idp.metadata);
    writeFileSync(join(h.dir, 'sync-token'), `${SYNC_TOKEN}\n`);
    const ttlSeconds = 6;
    h.writeConfig({
      sources: [
        { name: 'corp', type: 'scim', baseUrl: h.scim.baseUrl, auth: { type: 'bearer', tokenFile: './scim-token' } },
        {
          name: 'sso',
          type: 'saml',
          publicUrl,
          idp: { metadataFile: './idp.xml' },
          membershipTtlHours: ttlSeconds / 3600,
          users: { externalIdAttribute: 'wireUserId' },
        },
      ],
      // one conversation per team, whichever source names the group
      mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}', conversation: '{1}', remove: 'managed' }],
      schedule: '0 0 1 1 *',
      server: { host: '127.0.0.1', port, syncTokenFile: './sync-token' },
      daemon: { debounceMs: 50 },
      log: { level: 'info' },
    });
    const proc = startCli(['daemon', '--config', h.configFile]);
    let stderr = '';
    proc.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    stop = async () => {
      proc.child.kill('SIGTERM');
      return (await proc.done).code;
    };
    await until(() => /"msg":"run finished"|"lastResult"|listening/.test(stderr), 'daemon started', 15_000);
    const sync = async () => {
      const res = await request(`${publicUrl}/sync?wait=true`, { method: 'POST', headers: { authorization: `Bearer ${SYNC_TOKEN}` } });
      return JSON.parse(await res.body.text()) as { exitCode: number; summary: Record<string, number> };
    };
    await sync();

    const group = h.directory.groups[0]!;
    const team = `Team ${group.displayName.replace(/^team-/, '')}`;
    const scimMembers = group.members.map((m) => h.wireId(m.value)).sort();
    expect(h.chatState().get(team)).toEqual(scimMembers);
    const [outsider, second] = h.directory.users.filter((u) => !group.members.some((m) => m.value === u.id));
    if (!outsider || !second) throw new Error('the sample directory has too few users outside the group');

    // SP-initiated login: the daemon redirects to the IdP, the IdP (samlp) posts the signed answer back
    const login = async (user: (typeof h.directory.users)[number]) => {
      const redirect = await request(`${publicUrl}/saml/login`);
      await redirect.body.dump();
      const requestId = authnRequestOf(String(redirect.headers.location)).id;
      const xml = await idp.response({ nameId: user.email, groups: [group.displayName], attributes: { wireUserId: user.externalId }, inResponseTo: requestId });
      const acs = await request(`${publicUrl}/saml/acs`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ SAMLResponse: Buffer.from(xml).toString('base64') }).toString(),
      });
      const page = await acs.body.text();
      expect(acs.statusCode).toBe(200);
      expect(page).toContain(`<li>${team}</li>`);
      return Date.now();
    };
    const loginAt = await login(outsider);
    await until(() => (h.chatState().get(team) ?? []).includes(outsider.externalId), 'the SAML user added by the push-triggered run', 15_000);
    expect(h.chatState().get(team)).toEqual([...scimMembers, outsider.externalId].sort());

    // a second user logs in half a TTL later, so that the SAML group does not empty (an emptied
    // group is held back by the empty-group guard, as for any source)
    await sleep(Math.max(0, loginAt + (ttlSeconds * 1000) / 2 - Date.now()));
    await login(second);
    await until(() => (h.chatState().get(team) ?? []).includes(second.externalId), 'the second SAML user added', 15_000);

    // SAML never says "removed": the membership lasts its TTL, then the next run removes it
    await sleep(Math.max(0, loginAt + ttlSeconds * 1000 + 200 - Date.now()));
    const after = await sync();
    expect(after.summary.membersRemoved).toBe(1);
    expect(h.chatState().get(team)).toEqual([...scimMembers, second.externalId].sort());

    const metrics = await (await request(`${publicUrl}/metrics`)).body.text();
    expect(metrics).toMatch(/convsync_saml_logins_total\{result="accepted"\} 2/);
    expect(h.chatViolations()).toEqual([]);
  });
});
