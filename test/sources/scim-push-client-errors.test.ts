import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GROUP, PATCH, startPushApp, TOKEN, type PushApp } from './scim-push-app.js';

let app: PushApp;
beforeEach(async () => {
  app = await startPushApp();
});
afterEach(async () => {
  await app.close();
});

describe('SCIM push: a body the parser refuses for its charset or encoding', () => {
  it('is answered 415 as a SCIM error and not logged as a failure of convsync with a stack', async () => {
    const g = (await app.scim('POST', '/Groups', { schemas: [GROUP], displayName: 'g', members: [] })).json.id;
    const body = JSON.stringify({ schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'h' }] });
    for (const headers of [
      { 'content-type': 'application/scim+json; charset=latin1' },
      { 'content-type': 'application/scim+json', 'content-encoding': 'br' },
    ]) {
      const res = await request(`${app.url}/Groups/${g}`, { method: 'PATCH', headers: { ...headers, authorization: `Bearer ${TOKEN}` }, body });
      expect(res.statusCode).toBe(415);
      expect(await res.body.json()).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '415' });
    }
    // the daemon's other routes take body-parser's 4xx for the client's mistake (http.ts); so does the escape test for a bad path
    expect(app.logs.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level >= 50)).toEqual([]);
    expect((await app.scim('GET', `/Groups/${g}`)).json.displayName).toBe('g');
  });
});
