import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computePlan } from '../../src/plan/compute.js';
import { createIdentityResolver } from '../../src/identity/resolve.js';
import { mapGroups } from '../../src/mapping/map.js';
import { seededRandom, randomUuid } from '../../src/sandbox/random.js';
import { fileSource } from '../../src/sources/file/index.js';
import { Store } from '../../src/store/store.js';
import type { MappingConfig } from '../../src/config/schema.js';

export interface Workload {
  name: string;
  groups: number;
  users: number;
  memberships: number;
}

export const WORKLOADS: Workload[] = [
  { name: 'S', groups: 500, users: 5_000, memberships: 50_000 },
  { name: 'L', groups: 10_000, users: 100_000, memberships: 1_000_000 },
  { name: 'XL', groups: 30_000, users: 200_000, memberships: 2_000_000 },
];

const MAPPINGS: MappingConfig[] = [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}', remove: 'managed', readdLeavers: false, recreateDeleted: false }];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** users with a Wire-style id in externalId, and groups of memberships ÷ groups random members (seeded) */
export function generateDirectory(w: Workload) {
  const random = seededRandom(8);
  const users = Array.from({ length: w.users }, (_, i) => ({ id: `u${i}`, userName: `user${i}`, externalId: randomUuid(random) }));
  const per = Math.round(w.memberships / w.groups);
  const groups = Array.from({ length: w.groups }, (_, g) => {
    const members = new Set<string>();
    while (members.size < per) members.add(`u${Math.floor(random() * w.users)}`);
    return { id: `g${g}`, displayName: `team-${g}`, members: [...members] };
  });
  return { users, groups };
}

/**
 * The plan phases on a generated directory (seeded): the file source parsing it, the snapshot
 * loaded from SQLite (equal to the directory, so the plan is a no-op), mapping and identity, the
 * diff, and the store writes a run ends with. Peak RSS sampled every 20 ms.
 */
export async function planBench(w: Workload) {
  const dir = mkdtempSync(join(tmpdir(), `convsync-bench-${w.name}-`));
  try {
    const { users, groups } = generateDirectory(w);
    const random = seededRandom(9);
    const file = join(dir, 'directory.json');
    writeFileSync(file, JSON.stringify({ users, groups }));

    // the snapshot the store holds: every conversation already as the directory wants it
    const store = Store.open(join(dir, 'db.sqlite'));
    const externalOf = new Map(users.map((u) => [u.id, u.externalId]));
    const setupStart = performance.now();
    const run = store.runs.start('sync');
    for (const g of groups) {
      const op = {
        op: 'create' as const,
        key: `group:dir:${g.id}`,
        name: `Team ${g.id.slice(1)}`,
        members: [],
        groups: [`dir:${g.id}`],
        onGroupRemoved: 'keep' as const,
        reason: 'bench',
      };
      const id = store.journal.pending(run, op);
      store.journal.done(id, {
        kind: 'created',
        key: op.key,
        conversationId: randomUuid(random),
        name: op.name,
        ownerId: 'convsync',
        backend: 'wire',
        members: g.members.map((m) => externalOf.get(m)!).sort(),
        groups: op.groups,
        onGroupRemoved: 'keep',
      });
    }
    const setupSeconds = (performance.now() - setupStart) / 1000;

    // the setup's garbage (a million journal writes) is not the plan's to collect
    (globalThis as { gc?: () => void }).gc?.();
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const t = () => performance.now();
    const t0 = t();
    const read = await fileSource.create({ name: 'dir', type: 'file', path: file }).fetch();
    const t1 = t();
    const snapshot = store.loadSnapshot();
    const t2 = t();
    const identity = createIdentityResolver('externalId', (v) => (UUID.test(v) ? v : undefined));
    const mapped = mapGroups(read.groups, MAPPINGS, (u) => identity.resolve(u), 'keep', snapshot.users);
    const t3 = t();
    const plan = computePlan({
      desired: mapped.conversations,
      snapshot,
      policy: 'sync',
      ownerId: 'convsync',
      selfId: 'self',
      guards: { maxRemovalsPerRun: 100, maxRemovalRatio: 0.2, removalRatioMinMembers: 10, maxDeletesPerRun: 5, maxUnbindsPerRun: 5, protect: [] },
      maxMembers: 500,
      incompleteSources: [],
      allowRemovals: false,
      warnings: [],
    });
    const t4 = t();
    store.updateBindingGroups(mapped.conversations);
    store.guards.recordGroupSizes(read.groups.map((g) => ({ key: g.key, displayName: g.displayName, size: g.members.length })));
    const t5 = t();
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    const ops = plan.ops.length;
    store.close();
    const sizeBytes = statSync(join(dir, 'db.sqlite')).size + (statSync(join(dir, 'db.sqlite-wal'), { throwIfNoEntry: false })?.size ?? 0);
    const s = (a: number, b: number) => Math.round(b - a) / 1000;
    return {
      workload: w,
      phasesSeconds: { sourceParse: s(t0, t1), snapshotLoad: s(t1, t2), mapAndIdentity: s(t2, t3), diff: s(t3, t4), write: s(t4, t5) },
      planSeconds: s(t1, t4),
      totalSeconds: s(t0, t5),
      opsPlanned: ops,
      peakRssMiB: Math.round(peak / 2 ** 20),
      storeBytes: sizeBytes,
      snapshotSetupSeconds: Math.round(setupSeconds * 10) / 10,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
