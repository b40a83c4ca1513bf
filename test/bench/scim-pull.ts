import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Agent, type Dispatcher } from 'undici';
import { ConfigSchema, type ScimSourceConfig } from '../../src/config/schema.js';
import { scimSource } from '../../src/sources/scim/index.js';
import type { SourceResult } from '../../src/sources/types.js';
import { Store } from '../../src/store/store.js';
import type { Workload } from './plan.js';

/** every request convsync sends, counted where it leaves */
class CountingAgent extends Agent {
  requests = 0;
  override dispatch(options: Agent.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.requests++;
    return super.dispatch(options, handler);
  }
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * The SCIM source pulling a directory from the SCIM sandbox (scimmy on Express) running in a
 * child process, with a store: the first read is a full crawl (groups listed without members and
 * paged, each group's members read on its own, `concurrency` at a time, users listed and paged);
 * then, with nothing changed, what a scheduled run asks (`changed()`: the run then reads and plans
 * nothing) and what an incremental read costs when a run reads anyway; then the same after
 * `changedGroups` groups each gained a member. Requests are counted as they leave convsync.
 */
export async function scimPull(w: Workload, opts: { concurrency: number; pageSize: number; changedGroups: number }) {
  const perGroup = Math.round(w.memberships / w.groups);
  const server = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(new URL('./scim-server.ts', import.meta.url)),
      String(w.groups),
      String(perGroup),
      String(w.users),
      String(opts.pageSize),
    ],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: server.stdout! });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = () => new Promise<string>((resolve) => waiting.push(resolve));
  const dir = mkdtempSync(join(tmpdir(), 'convsync-bench-pull-'));
  const store = Store.open(join(dir, 'db.sqlite'));
  const agent = new CountingAgent();
  try {
    const baseUrl = await Promise.race([
      next(),
      new Promise<never>((_, reject) => server.once('exit', (code) => reject(new Error(`the SCIM sandbox exited ${code}`)))),
    ]);
    const config = ConfigSchema.parse({
      store: { path: ':memory:' },
      sources: [
        {
          name: 'corp',
          type: 'scim',
          baseUrl,
          auth: { type: 'bearer', token: 'bench-token' },
          concurrency: opts.concurrency,
          groups: { pageSize: opts.pageSize },
          users: { pageSize: opts.pageSize },
        },
      ],
      backend: { type: 'protocol', baseUrl: 'http://127.0.0.1:9', auth: { type: 'bearer', token: 'unused' } },
      mappings: [{ match: { source: 'corp' }, name: '{displayName}' }],
    });
    const source = scimSource.create(config.sources[0] as ScimSourceConfig, { logger: pino({ level: 'silent' }), store, dispatcher: agent });
    const signal = new AbortController().signal;
    const measure = async <T>(fn: () => Promise<T>) => {
      const [t, before] = [performance.now(), agent.requests];
      const value = await fn();
      return { value, seconds: round((performance.now() - t) / 1000), requests: agent.requests - before };
    };
    const whole = (r: SourceResult, what: string) => {
      if (r.groups.length !== w.groups || !r.listingComplete || r.groups.some((g) => !g.complete))
        throw new Error(`${what}: incomplete read, ${r.groups.length} groups, ${r.warnings.slice(0, 3).join('; ')}`);
      return r.groups.reduce((n, g) => n + g.members.length, 0);
    };

    const full = await measure(() => source.fetch(signal));
    const memberships = whole(full.value, 'full crawl');
    const probe = await measure(() => source.changed!(signal));
    if (probe.value) throw new Error('nothing changed, yet the source says it did');
    const quiet = await measure(() => source.fetch(signal));
    if (whole(quiet.value, 'incremental read') !== memberships) throw new Error('an incremental read with nothing changed gave other memberships');

    for (let g = 0; g < opts.changedGroups; g++) {
      server.stdin!.write(`add g-${String(g + 1).padStart(5, '0')} u-${String((((g + 1) * perGroup) % w.users) + 1).padStart(6, '0')}\n`);
      await next();
    }
    const probeChanged = await measure(() => source.changed!(signal));
    if (!probeChanged.value) throw new Error('groups changed, yet the source says nothing did');
    const changed = await measure(() => source.fetch(signal));
    if (whole(changed.value, 'incremental read of changes') !== memberships + opts.changedGroups) throw new Error('the incremental read missed a change');
    const share = (n: number) => round(n / full.requests, 5);
    return {
      seconds: full.seconds,
      groupsPerSecond: Math.round(w.groups / full.seconds),
      memberships,
      concurrency: opts.concurrency,
      pageSize: opts.pageSize,
      requests: full.requests,
      noChange: {
        probe: { requests: probe.requests, seconds: probe.seconds, shareOfFullCrawl: share(probe.requests) },
        incrementalRead: { requests: quiet.requests, seconds: quiet.seconds, shareOfFullCrawl: share(quiet.requests) },
      },
      changed: {
        groups: opts.changedGroups,
        probe: { requests: probeChanged.requests, seconds: probeChanged.seconds },
        incrementalRead: { requests: changed.requests, seconds: changed.seconds, shareOfFullCrawl: share(changed.requests) },
      },
    };
  } finally {
    server.kill('SIGTERM');
    store.close();
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
