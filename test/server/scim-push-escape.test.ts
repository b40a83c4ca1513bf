import { afterEach, describe, expect, it } from 'vitest';
import { startPushApp, type PushApp } from '../sources/scim-push-app.js';

let app: PushApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe('SCIM push: a path with a malformed %-escape', () => {
  it('is answered 400 and logged as a refused request, not as an error with a stack', async () => {
    app = await startPushApp();
    const res = await app.scim('GET', '/Users/%zz');
    expect(res.status).toBe(400);
    expect(app.logs.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
  });
});
