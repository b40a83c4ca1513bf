import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GROUP, PATCH, q, startPushApp, USER, type PushApp } from './scim-push-app.js';

/**
 * JSON may carry an unpaired surrogate (`"\ud800"`), which SQLite keeps as bytes that read back as
 * U+FFFD: two userNames apart would be stored as one. Such a body is refused whole, naming where.
 */
let app: PushApp;
beforeEach(async () => {
  app = await startPushApp();
});
afterEach(async () => {
  await app.close();
});

const invalid = (at: string) => ({
  status: 400,
  json: expect.objectContaining({
    scimType: 'invalidValue',
    detail: `${at} is not well-formed Unicode (it holds an unpaired surrogate, \\uD800–\\uDFFF): nothing was changed`,
  }),
});

async function created(path: string, body: Record<string, unknown>): Promise<string> {
  const res = await app.scim('POST', path, body);
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return res.json.id as string;
}

describe('SCIM push bodies that are not well-formed Unicode', () => {
  it('refuses users whose userNames would be stored as one, and stores nothing', async () => {
    expect(await app.scim('POST', '/Users', { schemas: [USER], userName: 'a\ud800@example.com', active: true })).toEqual(invalid('userName'));
    expect(await app.scim('POST', '/Users', { schemas: [USER], userName: 'a@example.com', externalId: 'x\udc01' })).toEqual(invalid('externalId'));
    // the first in the body's order is named
    expect(await app.scim('POST', '/Users', { schemas: [USER], externalId: '\ud800', userName: '\udc00' })).toEqual(invalid('externalId'));
    const emails = { schemas: [USER], userName: 'b@example.com', emails: [{ type: 'work', value: 'ok@example.com' }, { value: '\ud83d@example.com' }] };
    expect(await app.scim('POST', '/Users', emails)).toEqual(invalid('emails[1].value'));
    expect(await app.scim('POST', '/Users', { schemas: [USER], userName: 'c@example.com', ['x\ud800']: 1 })).toEqual(
      invalid('the attribute name "x\\ud800" in the body'),
    );
    expect((await app.scim('GET', '/Users')).json.totalResults).toBe(0);
    expect(app.changes).toEqual([]);
  });

  it('refuses a PUT, a group and a membership PATCH naming such a text, and changes nothing', async () => {
    const a = await created('/Users', { schemas: [USER], userName: 'a@example.com', externalId: 'ext-a' });
    const g = await created('/Groups', { schemas: [GROUP], displayName: 'team', members: [{ value: a }] });
    const changes = app.changes.length;
    expect(await app.scim('PUT', `/Users/${a}`, { schemas: [USER], userName: 'a@example.com', externalId: 'ext-\udfff' })).toEqual(invalid('externalId'));
    expect(await app.scim('POST', '/Groups', { schemas: [GROUP], displayName: 'team-\ud800' })).toEqual(invalid('displayName'));
    expect(
      await app.scim('POST', '/Groups', { schemas: [GROUP], displayName: 'ops', members: [{ value: a }, { value: '\udc00' }, { value: '\ud800' }] }),
    ).toEqual(invalid('members[1].value'));
    const patch = {
      schemas: [PATCH],
      Operations: [
        { op: 'replace', value: { displayName: 'renamed' } },
        { op: 'add', path: 'members', value: [{ value: 'u\ud800' }] },
      ],
    };
    expect(await app.scim('PATCH', `/Groups/${g}`, patch)).toEqual(invalid('Operations[1].value[0].value'));

    expect((await app.scim('GET', `/Users/${a}`)).json.externalId).toBe('ext-a');
    expect((await app.scim('GET', `/Groups/${g}`)).json).toMatchObject({ displayName: 'team', members: [{ value: a }] });
    expect((await app.scim('GET', '/Groups')).json.totalResults).toBe(1);
    expect(app.changes.length).toBe(changes);
  });

  it('keeps text with characters beyond the BMP (surrogate pairs) as it was sent', async () => {
    const id = await created('/Users', { schemas: [USER], userName: 'dev-👩‍💻@example.com', externalId: '𝔁-1' });
    expect((await app.scim('GET', `/Users?${q('externalId eq "𝔁-1"')}`)).json.Resources).toMatchObject([{ id, userName: 'dev-👩‍💻@example.com' }]);
    await created('/Groups', { schemas: [GROUP], displayName: 'team-🚀', members: [{ value: id }] });
    expect((await app.scim('GET', `/Groups?${q('displayName eq "team-🚀"')}`)).json.totalResults).toBe(1);
  });

  it('walks a deeply nested body without running out of stack', async () => {
    const deep = `{"schemas":["${USER}"],"userName":"d@example.com","x":${'['.repeat(20_000)}"\\ud800"${']'.repeat(20_000)}}`;
    const res = await app.scim('POST', '/Users', deep);
    expect(res.status).toBe(400);
    // the path is shown up to its first 200 characters
    expect(res.json.detail).toMatch(/^x(\[0\]){66}\[… is not well-formed Unicode/);
    const key = `${'k'.repeat(100_000)}\ud800`;
    const named = await app.scim('POST', '/Users', { schemas: [USER], userName: 'e@example.com', [key]: 1 });
    expect(named.status).toBe(400);
    expect(named.json.detail.length).toBeLessThan(500);
  });
});
