import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { ConfigSchema, type ScimSourceConfig } from '../../src/config/schema.js';
import { scimSource } from '../../src/sources/scim/index.js';
import type { Workload } from './plan.js';

/**
 * The SCIM source pulling a directory from the SCIM sandbox (scimmy on Express) running in a
 * child process: groups listed without members and paged, each group's members read on its own
 * (`concurrency` at a time), users listed and paged. The sandbox's own work (scimmy's schema
 * coercion of each resource) runs on the other core.
 */
export async function scimPull(w: Workload, opts: { concurrency: number; pageSize: number }) {
  const server = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./scim-server.ts', import.meta.url)), String(w.groups), String(Math.round(w.memberships / w.groups)), String(w.users), String(opts.pageSize)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const baseUrl = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      server.once('exit', (code) => reject(new Error(`the SCIM sandbox exited ${code}`)));
    });
    const config = ConfigSchema.parse({
      store: { path: ':memory:' },
      sources: [{ name: 'corp', type: 'scim', baseUrl, auth: { type: 'bearer', token: 'bench-token' }, concurrency: opts.concurrency, groups: { pageSize: opts.pageSize }, users: { pageSize: opts.pageSize } }],
      backend: { type: 'protocol', baseUrl: 'http://127.0.0.1:9', auth: { type: 'bearer', token: 'unused' } },
      mappings: [{ match: { source: 'corp' }, name: '{displayName}' }],
    });
    const source = scimSource.create(config.sources[0] as ScimSourceConfig, { logger: pino({ level: 'silent' }), store: undefined as never });
    const t = performance.now();
    const result = await source.fetch(new AbortController().signal);
    const seconds = (performance.now() - t) / 1000;
    const memberships = result.groups.reduce((n, g) => n + g.members.length, 0);
    if (result.groups.length !== w.groups || !result.listingComplete || result.groups.some((g) => !g.complete)) {
      throw new Error(`incomplete read: ${result.groups.length} groups, ${result.warnings.slice(0, 3).join('; ')}`);
    }
    return {
      seconds: Math.round(seconds * 100) / 100,
      groupsPerSecond: Math.round(w.groups / seconds),
      memberships,
      concurrency: opts.concurrency,
      pageSize: opts.pageSize,
      requests: 1 + Math.ceil(w.groups / opts.pageSize) + w.groups + Math.ceil(w.users / opts.pageSize),
    };
  } finally {
    server.kill('SIGTERM');
  }
}
