import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { createApp } from '../../src/main.js';
import { runOnce } from '../../src/reconcile/run.js';
import { scimSource } from '../../src/sources/scim/index.js';
import { Store } from '../../src/store/store.js';
import { scimToWire } from '../helpers/scim-wire.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
const skipped = (o: { plan: { warnings: string[] } }) => o.plan.warnings.some((w) => /^unchanged since run/.test(w));

it('a SCIM change another process reads and stores while a sync runs is planned by the next sync, not skipped as unchanged', async () => {
  const { scim, config, cleanup: stop } = await scimToWire({ groups: 2, membersPerGroup: 3, users: 6, seed: 3 });
  cleanup.push(stop);
  const app = await createApp(config, { logger: pino({ level: 'silent' }), writer: 'test' });
  cleanup.push(() => app.close());
  expect((await runOnce(app, { mode: 'sync' })).exitCode).toBe(0);
  expect(skipped(await runOnce(app, { mode: 'sync' }))).toBe(true);

  // a first change, so the next sync reads; after its read, a member is added and another process (`convsync plan`) stores its read
  scim.addMember('g-00001', 'u-000006');
  const other = Store.open(config.store.path);
  cleanup.push(() => other.close());
  const src = app.sources[0]!;
  const fetch = src.fetch.bind(src);
  let once = true;
  (src as { fetch: typeof fetch }).fetch = async (signal, opts) => {
    const r = await fetch(signal, opts);
    if (once) {
      once = false;
      await new Promise((res) => setTimeout(res, 20));
      scim.addMember('g-00002', 'u-000001');
      await scimSource.create(config.sources[0] as never, { store: other, logger: pino({ level: 'silent' }) }).fetch(new AbortController().signal);
    }
    return r;
  };
  const during = await runOnce(app, { mode: 'sync' });
  expect(during.plan.ops.map((o) => `${o.op} ${o.key}`)).toEqual(['add group:corp:g-00001']);
  const next = await runOnce(app, { mode: 'sync' });
  expect(skipped(next)).toBe(false);
  expect(next.plan.ops.map((o) => `${o.op} ${o.key}`)).toEqual(['add group:corp:g-00002']);
  expect(skipped(await runOnce(app, { mode: 'sync' }))).toBe(true);
  expect((await runOnce(app, { mode: 'dry-run', refresh: true })).plan.ops).toEqual([]);
});
