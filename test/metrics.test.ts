import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/metrics.js';
import { Store } from '../src/store/store.js';
import { tempDbPaths } from './helpers/temp-db.js';

/** one sample of a scrape, by its name and labels as written */
async function sample(registry: ReturnType<typeof createMetrics>['registry'], series: string): Promise<number> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`${series} is not in the scrape`);
  return Number(line.slice(series.length + 1));
}

describe('daemon metrics', () => {
  const dbPath = tempDbPaths('convsync-metrics-');

  it('report the longest event-loop block since the last scrape, and start again after it', async () => {
    const { registry } = createMetrics();
    await sleep(20);
    await sample(registry, 'convsync_event_loop_delay_seconds{stat="max"}');
    // Node's delay monitor starts measuring at its first tick after a reset (a scrape)
    await sleep(10);
    const until = performance.now() + 80;
    while (performance.now() < until);
    await sleep(20);
    const blocked = await sample(registry, 'convsync_event_loop_delay_seconds{stat="max"}');
    expect(blocked).toBeGreaterThanOrEqual(0.05);
    await sleep(20);
    expect(await sample(registry, 'convsync_event_loop_delay_seconds{stat="max"}')).toBeLessThan(blocked);
    for (const stat of ['p99', 'p50', 'mean']) expect(await sample(registry, `convsync_event_loop_delay_seconds{stat="${stat}"}`)).toBeGreaterThanOrEqual(0);
  });

  it('report the longest garbage-collector pause since the last scrape', async () => {
    const { registry } = createMetrics();
    await sample(registry, 'convsync_gc_pause_max_seconds');
    // enough short-lived garbage for the young generation to be collected a few times
    let kept = 0;
    for (let i = 0; i < 200; i++) kept += new Array(100_000).fill(i).length;
    expect(kept).toBe(20_000_000);
    await sleep(50);
    expect(await sample(registry, 'convsync_gc_pause_max_seconds')).toBeGreaterThan(0);
  });

  it("report the store's log file as it is at the scrape", async () => {
    const path = dbPath();
    const store = Store.open(path);
    store.wal.checkpointAt(20_000);
    const { registry } = createMetrics({ storeLogBytes: () => store.wal.bytes() });
    for (let i = 0; i < 50; i++) store.users.saveCredential(`c${i}`, 'x'.repeat(4000), 'test');
    const size = statSync(`${path}-wal`).size;
    expect(size).toBeGreaterThan(200_000);
    expect(await sample(registry, 'convsync_store_log_bytes')).toBe(size);
    // the last connection closed copies the log and removes the file: read at the scrape, not kept
    store.close();
    expect(await sample(registry, 'convsync_store_log_bytes')).toBe(0);
  });
});
