import { existsSync, mkdirSync, readdirSync, readFileSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ConfigSchema } from '../../../src/config/schema.js';
import { createApp, type App } from '../../../src/main.js';
import type { PlanOp } from '../../../src/plan/types.js';
import { runOnce, type RunOutcome } from '../../../src/reconcile/run.js';
import { WireSandbox } from '../../../src/sandbox/wire/server.js';

export interface FileUser {
  id: string;
  userName: string;
  externalId: string;
  active: boolean;
  [k: string]: unknown;
}
export interface FileGroup {
  id: string;
  displayName: string;
  members: string[];
}

export const opsOf = (ops: readonly PlanOp[]) =>
  ops.map((o) => JSON.stringify({ ...o, reason: undefined, ...('members' in o ? { members: [...o.members].sort() } : {}) })).sort();

export interface Harness {
  app: App;
  wire: WireSandbox;
  users: FileUser[];
  groups: FileGroup[];
  write(): void;
  /** a full dry-run plan of the current directory, then the real sync; both outcomes */
  planThenSync(): Promise<{ full: RunOutcome; sync: RunOutcome }>;
  close(): Promise<void>;
}

/**
 * `file`: one JSON file of users and groups. `directory`: a directory of a users file and a file per
 * group, each written only when its text changes, as a GitOps checkout changes.
 */
export type Layout = 'file' | 'directory';

export async function harness(extra: Record<string, unknown> = {}, nUsers = 10, layout: Layout = 'file'): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-partial-'));
  const wire = await WireSandbox.start({});
  wire.addUser({ email: 'bot@example.com', password: 'bot-password' });
  const users: FileUser[] = [];
  for (let i = 0; i < nUsers; i++) {
    const uuid = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    wire.addUser({ id: uuid });
    users.push({ id: `u${i}`, userName: `user${i}`, externalId: uuid, active: true });
  }
  const groups: FileGroup[] = [];
  const file = layout === 'file' ? join(dir, 'directory.json') : join(dir, 'directory');
  const write = layout === 'file' ? () => writeFileSync(file, JSON.stringify({ users, groups })) : () => writeDirectory(file, users, groups);
  write();
  const config = ConfigSchema.parse({
    store: { path: join(dir, 'db.sqlite') },
    sources: [{ name: 'dir', type: 'file', path: file }],
    backend: { type: 'wire', baseUrl: wire.url, email: 'bot@example.com', password: 'bot-password', teamId: wire.teamId },
    mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}' }],
    guards: { maxRemovalsPerRun: 10_000, maxRemovalRatio: 1, maxUnbindsPerRun: 100, maxSourceShrink: 1 },
    reconcile: { baseDelayMs: 1, maxDelayMs: 5, maxAttempts: 2, lostAnswerSettleMs: 0 },
    drift: { refreshEveryRuns: 0 },
    log: { level: 'silent' },
    ...extra,
  });
  const app: App = await createApp(config, { logger: pino({ level: 'silent' }), writer: 'test' });
  return {
    app,
    wire,
    users,
    groups,
    write,
    async planThenSync() {
      write();
      const full = await runOnce(app, { mode: 'plan' });
      const sync = await runOnce(app, { mode: 'sync' });
      return { full, sync };
    },
    async close() {
      await app.close();
      await wire.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function writeDirectory(dir: string, users: readonly FileUser[], groups: readonly FileGroup[]): void {
  mkdirSync(dir, { recursive: true });
  const wanted = new Map([
    ['users.json', JSON.stringify({ users })],
    ...groups.map((g) => [`group-${g.id}.json`, JSON.stringify({ groups: [g] })] as [string, string]),
  ]);
  for (const name of readdirSync(dir)) if (!wanted.has(name)) unlinkSync(join(dir, name));
  for (const [name, text] of wanted) {
    const path = join(dir, name);
    if (!existsSync(path) || readFileSync(path, 'utf8') !== text) writeFileSync(path, text);
  }
}
