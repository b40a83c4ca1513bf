import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GROUP, q, startPushApp, USER, type PushApp } from './scim-push-app.js';

let app: PushApp;
beforeEach(async () => {
  app = await startPushApp();
});
afterEach(async () => {
  await app.close();
});

/** a SCIM filter's value is a JSON string (RFC 7644 §3.4.2.2): `"` and `\` in it are escaped, as Entra ID sends them */
const literal = (value: string) => JSON.stringify(value);

describe('SCIM push filters with escaped string values', () => {
  it('finds a group whose displayName holds a double quote or a backslash by its escaped displayName, as Entra looks it up before a create', async () => {
    for (const displayName of ['Sales "EMEA"', 'CORP\\Admins']) {
      const created = await app.scim('POST', '/Groups', { schemas: [GROUP], displayName, members: [] });
      expect(created.status).toBe(201);
      const lookup = await app.scim('GET', `/Groups?${q(`displayName eq ${literal(displayName)}`)}&excludedAttributes=members`);
      expect(lookup.status, JSON.stringify(lookup.json)).toBe(200);
      expect(lookup.json, displayName).toMatchObject({ totalResults: 1, Resources: [{ id: created.json.id, displayName }] });
    }
  });

  it('finds a user whose externalId holds a backslash (DOMAIN\\account) by its escaped value', async () => {
    const created = await app.scim('POST', '/Users', { schemas: [USER], userName: 'alice@example.com', externalId: 'CORP\\alice' });
    expect(created.status).toBe(201);
    const lookup = await app.scim('GET', `/Users?${q(`externalId eq ${literal('CORP\\alice')}`)}`);
    expect(lookup.json).toMatchObject({ totalResults: 1, Resources: [{ id: created.json.id }] });
  });

  it('compares an escaped value in the rest of a filter too (checked after the look-up)', async () => {
    const created = await app.scim('POST', '/Users', { schemas: [USER], userName: 'bob@example.com', externalId: 'CORP\\bob' });
    const lookup = await app.scim('GET', `/Users?${q(`userName eq "bob@example.com" and externalId eq ${literal('CORP\\bob')}`)}`);
    expect(lookup.json).toMatchObject({ totalResults: 1, Resources: [{ id: created.json.id }] });
  });
});
