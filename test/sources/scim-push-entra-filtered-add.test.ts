import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GROUP, PATCH, SOURCE, startPushApp, USER, type PushApp } from './scim-push-app.js';

let app: PushApp;
beforeEach(async () => {
  app = await startPushApp();
});
afterEach(async () => {
  await app.close();
});

describe('SCIM push: Entra adds a typed value the user does not have yet with a filtered path', () => {
  it('applies the whole PATCH, deactivation included, when one of its ops adds a mobile phone by phoneNumbers[type eq "mobile"].value', async () => {
    const user = await app.scim('POST', '/Users', {
      schemas: [USER],
      userName: 'adele@example.com',
      active: true,
      emails: [{ type: 'work', value: 'adele@example.com', primary: true }],
    });
    expect(user.status).toBe(201);
    const group = await app.scim('POST', '/Groups', { schemas: [GROUP], displayName: 'team-a', members: [{ value: user.json.id }] });
    const changes = app.changes.length;
    // one sync cycle of Entra: every attribute that changed in one PATCH (Entra's default mapping of mobile)
    const res = await app.scim('PATCH', `/Users/${user.json.id}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555 0100' },
        { op: 'Replace', path: 'active', value: 'False' },
      ],
    });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(app.store.push.user(SOURCE, user.json.id)).toMatchObject({ active: false });
    expect(res.json.phoneNumbers).toEqual([{ type: 'mobile', value: '+1 555 0100' }]);
    // the deactivation reaches the run of the user's groups
    expect(app.changes.slice(changes)).toEqual([[`${SOURCE}:${group.json.id}`]]);
  });

  it('adds a work email (and its primary flag) to a user who has none, as the SCIM validator of Entra checks', async () => {
    const user = await app.scim('POST', '/Users', { schemas: [USER], userName: 'bob@example.com' });
    const res = await app.scim('PATCH', `/Users/${user.json.id}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'add', path: 'emails[type eq "work"].value', value: 'bob@corp.example' },
        { op: 'add', path: 'emails[type eq "work"].primary', value: true },
        { op: 'add', path: 'addresses[type eq "work"].locality', value: 'Berlin' },
      ],
    });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json.emails).toEqual([{ type: 'work', value: 'bob@corp.example', primary: true }]);
    expect(res.json.addresses).toEqual([{ type: 'work', locality: 'Berlin' }]);
    // and it is found by it, as Entra matches users
    const found = await app.scim('GET', `/Users?filter=${encodeURIComponent('emails[type eq "work"].value eq "bob@corp.example"')}`);
    expect(found.json.totalResults).toBe(1);
  });
});
