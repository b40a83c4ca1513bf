import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, until, wireState, type Harness } from '../helpers/harness.js';
import { GROUP, PATCH, scim, startDaemon, TOKEN, USER, type Daemon } from '../helpers/daemon.js';

describe('SCIM push from Entra ID and Okta (the real daemon over HTTP)', () => {
  let h: Harness;
  let d: Daemon | undefined;
  afterEach(async () => {
    await d?.stop();
    d = undefined;
    await h?.close();
  });

  const members = (name: string) => wireState(h.wire, h.botId).get(name);

  it('replays an Entra ID provisioning cycle, in both member-remove forms', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 1, users: 4 });
    d = await startDaemon(h);
    const [a, b, c] = h.directory.users;

    // Test Connection: a random userName, expected to be absent
    const probe = await scim(d, 'GET', `/Users?filter=${encodeURIComponent('userName eq "6f1b1b4e-0000-4000-8000-000000000000"')}`);
    expect(probe).toMatchObject({ status: 200, json: { totalResults: 0, Resources: [] } });

    const ids: string[] = [];
    for (const u of [a!, b!, c!]) {
      const res = await scim(d, 'POST', '/Users', {
        schemas: [USER, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
        externalId: u.externalId,
        userName: u.email,
        active: true,
        displayName: u.displayName,
        emails: [{ primary: true, type: 'work', value: u.email }],
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Eng' },
      });
      expect(res.status, JSON.stringify(res.json)).toBe(201);
      ids.push(res.json.id);
    }
    const lookup = await scim(d, 'GET', `/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "team-eng"')}`);
    expect(lookup.json.totalResults).toBe(0);
    const group = await scim(d, 'POST', '/Groups', { schemas: [GROUP], externalId: 'eng-1', displayName: 'team-eng', members: [] });
    expect(group.status).toBe(201);
    const gid = group.json.id as string;

    const add = await scim(d, 'PATCH', `/Groups/${gid}`, {
      schemas: [PATCH],
      Operations: [{ op: 'Add', path: 'members', value: ids.map((value) => ({ value })) }],
    });
    expect(add.status).toBe(204);
    await until(() => members('Team eng')?.length === 3, 'three members added');

    // the reference-attribute check
    const check = await scim(d, 'GET', `/Groups?filter=${encodeURIComponent(`id eq "${gid}" and members eq "${ids[0]}"`)}&excludedAttributes=members`);
    expect(check.json).toMatchObject({ totalResults: 1, Resources: [{ id: gid }] });

    // without ?aadOptscim062020: path "members" with a value array removes only those members
    expect(
      (await scim(d, 'PATCH', `/Groups/${gid}`, { schemas: [PATCH], Operations: [{ op: 'Remove', path: 'members', value: [{ value: ids[0] }] }] })).status,
    ).toBe(204);
    await until(() => members('Team eng')?.length === 2, 'one member removed (value array form)');
    expect(members('Team eng')).toEqual([b!.externalId, c!.externalId].sort());

    // with ?aadOptscim062020 on the Tenant URL: lower-case ops and a filtered path
    expect(
      (await scim(d, 'PATCH', `/Groups/${gid}?aadOptscim062020`, { schemas: [PATCH], Operations: [{ op: 'remove', path: `members[value eq "${ids[1]}"]` }] }))
        .status,
    ).toBe(204);
    const flagged = await scim(d, 'GET', `/Users?aadOptscim062020&filter=${encodeURIComponent(`userName eq "${c!.email}"`)}`);
    expect(flagged.json).toMatchObject({ totalResults: 1, Resources: [{ id: ids[2] }] });
    await until(() => members('Team eng')?.length === 1, 'one member removed (filter form)');

    // rename
    expect(
      (await scim(d, 'PATCH', `/Groups/${gid}`, { schemas: [PATCH], Operations: [{ op: 'Replace', path: 'displayName', value: 'team-platform' }] })).status,
    ).toBe(204);
    await until(() => members('Team platform')?.length === 1, 'renamed');

    // deactivation, the pre-flag way: "False" as a string
    const off = await scim(d, 'PATCH', `/Users/${ids[2]}`, { schemas: [PATCH], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
    expect(off.status, JSON.stringify(off.json)).toBe(200);
    expect(off.json.active).toBe(false);
    await until(() => members('Team platform')?.length === 0, 'deactivated user removed');

    // the flag's path-less replace with URN keys
    const on = await scim(d, 'PATCH', `/Users/${ids[2]}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'replace', value: { active: true, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department': 'Ops', displayName: 'C again' } },
      ],
    });
    expect(on.status, JSON.stringify(on.json)).toBe(200);
    await until(() => members('Team platform')?.length === 1, 'reactivated user back');

    // group deleted: the conversation is kept and unbound (no deletion by default)
    expect((await scim(d, 'DELETE', `/Groups/${gid}`)).status).toBe(204);
    await sleep(400);
    expect(members('Team platform')).toHaveLength(1);
    expect((await scim(d, 'GET', `/Groups/${gid}`)).status).toBe(404);
  });

  it('replays an Okta group push: duplicate user 409, membership and rename PATCH, full PUT, deactivation, delete', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 1, users: 4 });
    d = await startDaemon(h);
    const users = h.directory.users.slice(0, 4);
    expect((await scim(d, 'GET', `/Users?filter=${encodeURIComponent(`userName eq "${users[0]!.email}"`)}&startIndex=1&count=100`)).json.totalResults).toBe(0);
    const ids: string[] = [];
    for (const u of users) {
      const res = await scim(d, 'POST', '/Users', {
        schemas: [USER],
        userName: u.email,
        externalId: u.externalId,
        name: { givenName: 'x', familyName: 'y' },
        emails: [{ value: u.email, primary: true }],
        active: true,
      });
      ids.push(res.json.id);
    }
    const dup = await scim(d, 'POST', '/Users', { schemas: [USER], userName: users[0]!.email, active: true });
    expect(dup).toMatchObject({ status: 409, json: { scimType: 'uniqueness' } });

    const g = await scim(d, 'POST', '/Groups', { schemas: [GROUP], displayName: 'team-ops', members: [] });
    const gid = g.json.id as string;
    // rename and membership: Okta sends the path-less replace with {id, displayName} alongside member changes
    const patch = await scim(d, 'PATCH', `/Groups/${gid}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'replace', value: { id: gid, displayName: 'team-sre' } },
        {
          op: 'add',
          path: 'members',
          value: [
            { value: ids[0], display: 'a' },
            { value: ids[1], display: 'b' },
            { value: ids[2], display: 'c' },
          ],
        },
      ],
    });
    expect(patch.status).toBe(204);
    await until(() => members('Team sre')?.length === 3, 'created with three');
    const swap = await scim(d, 'PATCH', `/Groups/${gid}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'remove', path: `members[value eq "${ids[0]}"]` },
        { op: 'add', path: 'members', value: [{ value: ids[3] }] },
      ],
    });
    expect(swap.status).toBe(204);
    await until(
      () =>
        members('Team sre')?.join() ===
        [users[1], users[2], users[3]]
          .map((u) => u!.externalId)
          .sort()
          .join(),
      'member swapped',
    );

    // a full replace of the members
    const replaced = await scim(d, 'PATCH', `/Groups/${gid}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', path: 'members', value: [{ value: ids[2] }, { value: ids[3] }] }],
    });
    expect(replaced.status).toBe(204);
    await until(
      () =>
        members('Team sre')?.join() ===
        [users[2], users[3]]
          .map((u) => u!.externalId)
          .sort()
          .join(),
      'members replaced by PATCH',
    );

    // AIW apps: the whole group by PUT
    const put = await scim(d, 'PUT', `/Groups/${gid}`, { schemas: [GROUP], id: gid, displayName: 'team-sre', members: [{ value: ids[0] }, { value: ids[1] }] });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    await until(
      () =>
        members('Team sre')?.join() ===
        [users[0], users[1]]
          .map((u) => u!.externalId)
          .sort()
          .join(),
      'members replaced by PUT',
    );

    // Okta never deletes users: it deactivates them
    const off = await scim(d, 'PATCH', `/Users/${ids[0]}`, { schemas: [PATCH], Operations: [{ op: 'replace', value: { active: false } }] });
    expect(off.status).toBe(200);
    await until(() => members('Team sre')?.join() === users[1]!.externalId, 'deactivated user removed');

    expect((await scim(d, 'DELETE', `/Groups/${gid}`)).status).toBe(204);
    expect((await scim(d, 'GET', '/Groups')).json.totalResults).toBe(0);
  });

  it('refuses missing, wrong and query-string tokens, malformed and oversized bodies, and keeps serving', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 1, users: 2 });
    d = await startDaemon(h);
    const user = { schemas: [USER], userName: 'eve@example.com', active: true };
    expect((await scim(d, 'POST', '/Users', user, null)).status).toBe(401);
    expect((await scim(d, 'POST', '/Users', user, 'wrong-token')).status).toBe(401);
    expect((await scim(d, 'POST', `/Users?access_token=${TOKEN}`, user, null)).status).toBe(401);
    const malformed = await scim(d, 'POST', '/Users', '{"schemas": [', TOKEN);
    expect(malformed).toMatchObject({ status: 400, json: { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], scimType: 'invalidSyntax' } });
    const huge = await scim(d, 'POST', '/Users', { ...user, displayName: 'x'.repeat(20_000) });
    expect(huge).toMatchObject({ status: 413, json: { status: '413' } });
    const invalid = await scim(d, 'POST', '/Users', { schemas: [USER], active: true });
    expect(invalid.status).toBe(400);
    expect(invalid.json.detail).toMatch(/userName/);
    const badPatch = await scim(d, 'PATCH', '/Groups/nope', { schemas: ['wrong'], Operations: [] });
    expect(badPatch.status).toBe(400);
    // nothing was stored, and the daemon still answers
    expect((await scim(d, 'GET', '/Users')).json).toMatchObject({ totalResults: 0 });
    const spc = await scim(d, 'GET', '/ServiceProviderConfig');
    expect(spc.json).toMatchObject({ patch: { supported: true }, bulk: { supported: false } });
    const schemas = await scim(d, 'GET', '/Schemas');
    expect(schemas.json.Resources.map((r: { id: string }) => r.id)).toEqual(
      expect.arrayContaining([
        'urn:ietf:params:scim:schemas:core:2.0:User',
        'urn:ietf:params:scim:schemas:core:2.0:Group',
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
      ]),
    );
    expect((await scim(d, 'GET', '/ResourceTypes')).json.Resources.map((r: { name: string }) => r.name).sort()).toEqual(['Group', 'User']);
  });

  it('parses filters for real, takes the bearer scheme in any case, refuses what no index answers, and names unknown members', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 1, users: 3 });
    d = await startDaemon(h);
    const [a, b] = h.directory.users;
    const lower = await request(`${d.url}/scim/v2/Users?count=1`, { headers: { authorization: `bearer ${TOKEN}` } });
    expect(lower.statusCode).toBe(200);
    await lower.body.dump();
    const ids: string[] = [];
    for (const u of [a!, b!])
      ids.push((await scim(d, 'POST', '/Users', { schemas: [USER], userName: u.email, externalId: u.externalId, active: true })).json.id);
    const board = await scim(d, 'POST', '/Groups', { schemas: [GROUP], displayName: 'Board Members', members: [] });
    const found = await scim(d, 'GET', `/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "Board Members"')}`);
    expect(found).toMatchObject({ status: 200, json: { totalResults: 1, Resources: [{ id: board.json.id, displayName: 'Board Members' }] } });
    const unsupported = await scim(d, 'GET', `/Users?filter=${encodeURIComponent('active eq true')}`);
    expect(unsupported).toMatchObject({ status: 400, json: { scimType: 'invalidFilter' } });

    const g = await scim(d, 'POST', '/Groups', { schemas: [GROUP], displayName: 'team-board', members: [{ value: ids[0] }] });
    await until(() => members('Team board')?.length === 1, 'created with one member');
    const partial = await scim(d, 'PATCH', `/Groups/${g.json.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'Add', path: 'members', value: [{ value: ids[1] }, { value: 'not-a-user' }, { value: 'deleted-user' }] }],
    });
    expect(partial).toMatchObject({ status: 400, json: { scimType: 'invalidValue' } });
    expect(partial.json.detail).toMatch(/: not-a-user, deleted-user$/);
    await sleep(400);
    expect(members('Team board')).toEqual([a!.externalId]);
    expect(
      (await scim(d, 'PATCH', `/Groups/${g.json.id}`, { schemas: [PATCH], Operations: [{ op: 'Add', path: 'members', value: [{ value: ids[1] }] }] })).status,
    ).toBe(204);
    await until(() => members('Team board')?.length === 2, 'the known member added once asked alone');
  });

  it('convsync validate refuses push and SAML paths that overlap, naming both', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 1, users: 1 });
    h.writeConfig({
      sources: [
        { name: 'entra', type: 'scim-push', path: '/scim', token: 'a' },
        { name: 'okta', type: 'scim-push', path: '/scim/v2', token: 'b' },
      ],
    });
    const res = await h.cli(['validate']);
    expect(res.code).toBe(78);
    expect(res.stdout + res.stderr).toMatch(/sources\[1\]\.path: \/scim\/v2 \(source "okta"\) overlaps \/scim \(source "entra"\)/);
  });

  it('keeps what was pushed across a restart: a one-shot sync reads it from the store', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 1, users: 3 });
    d = await startDaemon(h, { daemon: { debounceMs: 60_000 } });
    const u = h.directory.users[0]!;
    const created = await scim(d, 'POST', '/Users', { schemas: [USER], userName: u.email, externalId: u.externalId, active: true });
    const g = await scim(d, 'POST', '/Groups', { schemas: [GROUP], displayName: 'team-data', members: [{ value: created.json.id }] });
    expect(g.status).toBe(201);
    expect(await d.stop()).toBe(0);
    d = undefined;
    expect(h.wire.conversations.size).toBe(0); // the debounce had not fired yet
    const res = await h.cli(['sync']);
    expect(res.code, res.stderr).toBe(0);
    expect(members('Team data')).toEqual([u.externalId]);
  });
});
