import { afterEach, describe, expect, it } from 'vitest';
import { printGroups } from '../../../src/reconcile/changed-groups.js';
import { runOnce } from '../../../src/reconcile/run.js';
import { fileSource } from '../../../src/sources/file/index.js';
import { printKeyOf } from '../../../src/sources/print.js';
import { harness, type Harness } from './harness.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

async function synced(): Promise<Harness> {
  const t = await harness({}, 6);
  cleanup.push(() => t.close());
  t.groups.push({ id: 'a', displayName: 'team-a', members: ['u0', 'u1'] }, { id: 'b', displayName: 'team-b', members: ['u2'] });
  t.write();
  expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
  return t;
}

describe('prints of a plan', () => {
  it("are made under the store's own key: the same directory prints otherwise in another store", async () => {
    const [one, two] = [await synced(), await synced()];
    const stored = one.app.store.prints.all();
    expect([...stored.keys()].sort()).toEqual(['dir:a', 'dir:b']);
    // what the plan stored is the directory printed afresh under this store's key
    const read = await fileSource.create({ name: 'dir', type: 'file', path: (one.app.config.sources[0] as { path: string }).path });
    expect(printGroups((await read.fetch(new AbortController().signal)).groups, printKeyOf(one.app.store.prints.key()))).toEqual(stored);
    const other = two.app.store.prints.all();
    for (const [key, print] of stored) expect(other.get(key)).not.toBe(print);
  });
});
