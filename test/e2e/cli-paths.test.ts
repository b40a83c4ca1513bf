import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

describe('errors that say which file', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('`apply` of a path that cannot be read as a file names it', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 1 });
    const dir = join(h.dir, 'plans');
    mkdirSync(dir);
    const res = await h.cli(['apply', dir]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(new RegExp(`^${dir}: EISDIR`));
  });
});
