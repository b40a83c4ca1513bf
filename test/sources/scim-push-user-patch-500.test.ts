import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PATCH, SOURCE, startPushApp, USER, type PushApp } from './scim-push-app.js';

let app: PushApp;
beforeEach(async () => {
  app = await startPushApp();
});
afterEach(async () => {
  await app.close();
});

describe('SCIM push: a user PATCH whose path scimmy cannot resolve', () => {
  it('is answered 400 (the IdP does not send it again), not 500 with a TypeError of scimmy, and changes nothing', async () => {
    const user = await app.scim('POST', '/Users', { schemas: [USER], userName: 'a@example.com' });
    const res = await app.scim('PATCH', `/Users/${user.json.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', value: { 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value': 'm', active: false } }],
    });
    expect(res.status, JSON.stringify(res.json)).toBe(400);
    expect(res.json.detail).not.toMatch(/Cannot read properties/);
    expect(app.store.push.user(SOURCE, user.json.id)?.active).toBe(true);
    expect(app.logs.map((l) => JSON.parse(l) as { level: number }).filter((l) => l.level >= 50)).toEqual([]);
  });
});
