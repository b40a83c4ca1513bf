import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { storeAnswer } from '../../src/sources/scim-push/format.js';
import { Store } from '../../src/store/store.js';
import { startPushDaemon, type PushDaemon } from './push-daemon.js';

export interface LookupParams {
  users: number;
  groups: number;
  membersPerGroup: number;
  /** timed requests per kind of look-up */
  samples: number;
  /** users made by the Entra-style first cycle (a look-up, then a POST, per user), on an empty store */
  cycleUsers: number;
  /** requests the first cycle keeps in flight */
  concurrency: number;
}

const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const userName = (i: number) => `user${i}@example.com`;
const userBody = (i: number, name = userName(i)) => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
  userName: name,
  externalId: `ext-${i}`,
  active: true,
  displayName: `User ${i}`,
  emails: [{ type: 'work', value: `work${i}@corp.example`, primary: true }],
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: `d${i % 50}` },
});
/** the k-th member of group g, as an index into the users (spread over the directory) */
const memberIndex = (g: number, k: number, users: number) => (g * 7919 + k * 104_729) % users;

interface Seeded {
  file: string;
  userIds: string[];
  seconds: number;
}
let seeded: Seeded | undefined;

/**
 * The directory the look-ups read, written once per bench process through the store as the
 * provider writes it (resources and their stored answers, memberships as rows), then copied for
 * each run: the daemon under test starts on a closed file and pays for none of it.
 */
function seedDirectory(params: LookupParams): Seeded {
  if (seeded && existsSync(seeded.file)) return seeded;
  const dir = mkdtempSync(join(tmpdir(), 'convsync-bench-seed-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'db.sqlite');
  const started = performance.now();
  const store = Store.open(file);
  const ctx = { store, source: 'idp', path: '/scim/v2', changed: () => undefined };
  const now = new Date().toISOString();
  const userIds = Array.from({ length: params.users }, () => randomUUID());
  store.push.transaction(() => {
    userIds.forEach((id, i) => {
      const { schemas: _schemas, ...resource } = userBody(i);
      const u = store.push.putUser('idp', { id, userName: resource.userName, externalId: resource.externalId, active: true, resource }, now);
      storeAnswer(ctx, 'User', u);
    });
  });
  store.push.transaction(() => {
    for (let g = 0; g < params.groups; g++) {
      const id = `g-${String(g).padStart(6, '0')}`;
      const group = store.push.putGroup('idp', { id, displayName: `team-${g}`, externalId: `gx-${g}` }, now);
      store.push.addMembers(
        'idp',
        id,
        Array.from({ length: params.membersPerGroup }, (_, k) => userIds[memberIndex(g, k, params.users)]!),
      );
      storeAnswer(ctx, 'Group', group);
    }
  });
  store.close();
  seeded = { file, userIds, seconds: round((performance.now() - started) / 1000) };
  return seeded;
}

/** Entra's first cycle: for each user in scope, `userName eq` (absent), then a POST, `concurrency` at a time */
async function firstCycle(d: PushDaemon, params: LookupParams) {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    for (let i = next++; i < params.cycleUsers; i = next++) {
      const found = await d.scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName(i)}"`)}`);
      if (found.totalResults !== 0) throw new Error(`${userName(i)} found before it was made`);
      await d.scim('POST', '/Users', userBody(i));
    }
  };
  await Promise.all(Array.from({ length: params.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  const requests = params.cycleUsers * 2;
  return { users: params.cycleUsers, seconds: round(seconds), requests, requestsPerSecond: round(requests / seconds, 0) };
}

/** the look-ups, one kind after another in turn, each `samples` times; the baselines are no look-ups at all */
function lookupRequests(params: LookupParams, userIds: string[]): Record<string, (i: number) => string> {
  const f = (filter: string) => `filter=${encodeURIComponent(filter)}`;
  // spread over the directory, the same sequence in every run
  const at = (i: number, n: number) => (i * 2_654_435_761) % n;
  const g = (i: number) => at(i, params.groups);
  const group = (i: number) => `g-${String(g(i)).padStart(6, '0')}`;
  // half of the checks ask about a member, half about someone else
  const member = (i: number) => userIds[i % 2 === 0 ? memberIndex(g(i), i % params.membersPerGroup, params.users) : at(i + 1, params.users)]!;
  return {
    baselineHealthz: () => '/healthz',
    baselineServiceProviderConfig: () => '/scim/v2/ServiceProviderConfig',
    userNameHit: (i) => `/scim/v2/Users?${f(`userName eq "${userName(at(i, params.users))}"`)}&startIndex=1&count=100`,
    userNameMiss: (i) => `/scim/v2/Users?${f(`userName eq "${i}-0000-4000-8000-000000000000"`)}`,
    externalId: (i) => `/scim/v2/Users?${f(`externalId eq "ext-${at(i, params.users)}"`)}`,
    id: (i) => `/scim/v2/Users?${f(`id eq "${userIds[at(i, params.users)]}"`)}`,
    workEmail: (i) => `/scim/v2/Users?${f(`emails[type eq "work"].value eq "work${at(i, params.users)}@corp.example"`)}`,
    userById: (i) => `/scim/v2/Users/${userIds[at(i, params.users)]}`,
    groupDisplayName: (i) => `/scim/v2/Groups?excludedAttributes=members&${f(`displayName eq "team-${g(i)}"`)}`,
    groupExternalId: (i) => `/scim/v2/Groups?excludedAttributes=members&${f(`externalId eq "gx-${g(i)}"`)}`,
    membershipCheck: (i) => `/scim/v2/Groups?excludedAttributes=members&${f(`id eq "${group(i)}" and members eq "${member(i)}"`)}`,
    membershipBracket: (i) => `/scim/v2/Groups?excludedAttributes=members&${f(`id eq "${group(i)}" and members[value eq "${member(i)}"]`)}`,
    groupByIdNoMembers: (i) => `/scim/v2/Groups/${group(i)}?excludedAttributes=members`,
    // Okta's import: pages of 100, one after the other
    userPage: (i) => `/scim/v2/Users?startIndex=${1 + 100 * (i % Math.floor(params.users / 100))}&count=100`,
    groupPage: (i) => `/scim/v2/Groups?excludedAttributes=members&startIndex=${1 + 100 * (i % Math.floor(params.groups / 100))}&count=100`,
  };
}

async function timeLookups(d: PushDaemon, requests: Record<string, (i: number) => string>, samples: number) {
  const times = new Map<string, number[]>(Object.keys(requests).map((k) => [k, []]));
  for (let i = 0; i < samples; i++) {
    for (const [kind, path] of Object.entries(requests)) {
      const started = performance.now();
      const a = await d.raw('GET', path(i));
      times.get(kind)!.push(performance.now() - started);
      if (a.status !== 200) throw new Error(`GET ${path(i)}: ${a.status} ${a.json?.detail ?? ''}`);
    }
  }
  const summary = (list: number[]) => {
    const sorted = [...list].sort((a, b) => a - b);
    return { p50Ms: round(percentile(sorted, 0.5)), p99Ms: round(percentile(sorted, 0.99)), maxMs: round(sorted.at(-1)!) };
  };
  const lookups = [...times].filter(([k]) => !k.startsWith('baseline'));
  return {
    byKind: Object.fromEntries([...times].map(([k, list]) => [k, summary(list)])),
    all: summary(lookups.flatMap(([, list]) => list)),
    requests: samples * lookups.length,
  };
}

/** what the daemon says about its own event loop over the window since the previous scrape */
async function serverLoop(d: PushDaemon) {
  const m = await d.metrics();
  const ms = (name: string) => round((m.get(name) ?? Number.NaN) * 1000);
  return {
    maxMs: ms('convsync_event_loop_delay_seconds{stat="max"}'),
    p99Ms: ms('convsync_event_loop_delay_seconds{stat="p99"}'),
    meanMs: ms('convsync_event_loop_delay_seconds{stat="mean"}'),
    gcPauseMaxMs: ms('convsync_gc_pause_max_seconds'),
    cpuSeconds: round(m.get('convsync_process_process_cpu_seconds_total') ?? Number.NaN),
    heapUsedMiB: round((m.get('convsync_process_nodejs_heap_size_used_bytes') ?? Number.NaN) / 2 ** 20, 0),
  };
}

/**
 * One membership PATCH as Entra sends it, then the run it triggers (debounced, scoped to the
 * group): the daemon's event loop over that window, the run included.
 */
async function afterPatch(d: PushDaemon, userIds: string[]) {
  const before = (await d.status()).lastRunAt;
  await serverLoop(d);
  const started = performance.now();
  await d.scim('PATCH', '/Groups/g-000000', {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'Add', path: 'members', value: [{ value: userIds[1] }] }],
  });
  const run = await d.idle(before);
  return { result: run.lastResult, secondsToRunEnd: round((performance.now() - started) / 1000), ...(await serverLoop(d)) };
}

/** /healthz one request at a time for `ms`: how many were answered */
async function healthzFor(d: PushDaemon, ms: number): Promise<number> {
  const until = performance.now() + ms;
  let n = 0;
  for (; performance.now() < until; n++) {
    const a = await d.raw('GET', '/healthz');
    if (a.status !== 200) throw new Error(`GET /healthz: ${a.status}`);
  }
  return n;
}

/** a run of `fn` with the daemon's own event-loop figures and CPU for that window */
async function watched<T>(d: PushDaemon, requests: (r: T) => number, fn: () => Promise<T>) {
  const before = await serverLoop(d);
  const load = loadavg()[0]!;
  const started = performance.now();
  const result = await fn();
  const seconds = (performance.now() - started) / 1000;
  const after = await serverLoop(d);
  const { cpuSeconds, ...loop } = after;
  return {
    result,
    seconds,
    server: { ...loop, cpuMsPerRequest: round(((cpuSeconds - before.cpuSeconds) * 1000) / requests(result), 3) },
    load: [round(load), round(loadavg()[0]!)],
  };
}

/**
 * SCIM push look-ups at scale, against the real daemon (a child process over a SQLite file that
 * holds `users` users and `groups × membersPerGroup` memberships, loaded before it started), from a
 * client in this process over loopback HTTP: each kind of look-up Entra ID and Okta send, one at a
 * time, with /healthz and /ServiceProviderConfig as the floor, while the daemon reports its own
 * event-loop delay. Then an Entra-style first cycle of `cycleUsers` users against a daemon on an
 * empty store.
 */
export async function pushLookups(params: LookupParams) {
  const seed = seedDirectory(params);
  const dir = mkdtempSync(join(tmpdir(), 'convsync-bench-'));
  let d: PushDaemon | undefined;
  try {
    copyFileSync(seed.file, join(dir, 'db.sqlite'));
    d = await startPushDaemon(dir);
    const startRun = { result: (await d.idle()).lastResult, ...(await serverLoop(d)) };
    const timed = await watched(
      d,
      (t) => t.requests,
      () => timeLookups(d!, lookupRequests(params, seed.userIds), params.samples),
    );
    // the same daemon answering only /healthz for as long: the loop's figures with no look-up at all
    const floor = await watched(
      d,
      (n) => n,
      () => healthzFor(d!, timed.seconds * 1000),
    );
    // pages no page read before ended at (Okta's import resumed after a restart, or after a write):
    // one such page per import, not thousands, so timed apart from the look-ups. Their offsets end in
    // 50 and they end in 49, where pages read in turn start and end at multiples of 100
    const pageStarts = Math.max(1, Math.floor(params.users / 100) - 1);
    const anywhere = await watched(
      d,
      (t) => t.requests,
      () => timeLookups(d!, { pageAtAnyOffset: (i) => `/scim/v2/Users?startIndex=${51 + 100 * ((i * 2_654_435_761) % pageStarts)}&count=99` }, 200),
    );
    const patchRun = await afterPatch(d, seed.userIds);
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    d = await startPushDaemon(dir);
    await d.idle();
    const cycle = await watched(
      d,
      (c) => c.requests,
      () => firstCycle(d!, params),
    );
    return {
      seedSeconds: seed.seconds,
      startRun,
      memberships: params.groups * params.membersPerGroup,
      lookups: timed.result.byKind,
      allLookups: timed.result.all,
      lookupsServer: timed.server,
      lookupsLoad: timed.load,
      floorServer: floor.server,
      floorLoad: floor.load,
      pageAtAnyOffset: { ...anywhere.result.all, server: anywhere.server },
      patchRun,
      firstCycle: { ...cycle.result, server: cycle.server, load: cycle.load },
      storeMiB: round(statSync(seed.file).size / 2 ** 20, 0),
    };
  } finally {
    await d?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

type LookupRun = Awaited<ReturnType<typeof pushLookups>>;
const over = (runs: number[]) => {
  const sorted = [...runs].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted.at(-1)!, runs };
};

/** 100k users and 1M memberships unless BENCH_PUSH_USERS says otherwise (a tenth as many groups, 100 members each); the first cycle as many users unless BENCH_PUSH_CYCLE_USERS */
const lookupUsers = Number(process.env.BENCH_PUSH_USERS ?? 100_000);
export const LOOKUP_PARAMS: LookupParams = {
  users: lookupUsers,
  groups: Math.round(lookupUsers / 10),
  membersPerGroup: 100,
  samples: Number(process.env.BENCH_PUSH_SAMPLES ?? 1000),
  cycleUsers: Number(process.env.BENCH_PUSH_CYCLE_USERS ?? lookupUsers),
  concurrency: 4,
};

/** the runs of `pushLookups`, as `npm run bench` reports them */
export function summarizeLookups(runs: LookupRun[], params = LOOKUP_PARAMS) {
  return {
    what:
      'SCIM push look-ups against the real daemon (child process, SQLite file loaded before it started; client in the bench process, loopback HTTP, ' +
      'one request at a time, every kind in turn), the event-loop delay and GC pauses as the daemon reports them on /metrics (1 ms resolution); ' +
      '/healthz and /ServiceProviderConfig timed in the same loop as the floor; then an Entra-style first cycle on an empty store ' +
      '(userName eq look-up then POST, per user, `concurrency` users at a time)',
    params,
    memberships: runs[0]!.memberships,
    target: { lookupP99Ms: 5, eventLoopDelayMaxMs: 20 },
    loadAverage: runs.map((r) => ({ lookups: r.lookupsLoad, firstCycle: r.firstCycle.load })),
    lookupP50Ms: over(runs.map((r) => r.allLookups.p50Ms)),
    lookupP99Ms: over(runs.map((r) => r.allLookups.p99Ms)),
    lookupMaxMs: over(runs.map((r) => r.allLookups.maxMs)),
    serverEventLoopDelayMaxMs: over(runs.map((r) => r.lookupsServer.maxMs)),
    serverEventLoopDelayP99Ms: over(runs.map((r) => r.lookupsServer.p99Ms)),
    serverGcPauseMaxMs: over(runs.map((r) => r.lookupsServer.gcPauseMaxMs)),
    /** the same daemon answering /healthz alone for as long as the look-ups took: the loop's floor on this machine */
    floorEventLoopDelayMaxMs: over(runs.map((r) => r.floorServer.maxMs)),
    floorEventLoopDelayP99Ms: over(runs.map((r) => r.floorServer.p99Ms)),
    floorGcPauseMaxMs: over(runs.map((r) => r.floorServer.gcPauseMaxMs)),
    floorLoadAverage: runs.map((r) => r.floorLoad),
    serverCpuMsPerLookup: over(runs.map((r) => r.lookupsServer.cpuMsPerRequest)),
    serverHeapUsedMiB: over(runs.map((r) => r.lookupsServer.heapUsedMiB)),
    byKind: Object.fromEntries(
      Object.keys(runs[0]!.lookups).map((k) => [
        k,
        {
          p50Ms: over(runs.map((r) => r.lookups[k]!.p50Ms)),
          p99Ms: over(runs.map((r) => r.lookups[k]!.p99Ms)),
          maxMs: over(runs.map((r) => r.lookups[k]!.maxMs)),
        },
      ]),
    ),
    /** 200 pages of 99 users at offsets no page ended at, one at a time: each steps over the ids before it */
    pageAtAnyOffset: {
      p50Ms: over(runs.map((r) => r.pageAtAnyOffset.p50Ms)),
      p99Ms: over(runs.map((r) => r.pageAtAnyOffset.p99Ms)),
      maxMs: over(runs.map((r) => r.pageAtAnyOffset.maxMs)),
      serverEventLoopDelayMaxMs: over(runs.map((r) => r.pageAtAnyOffset.server.maxMs)),
    },
    firstCycle: {
      users: params.cycleUsers,
      concurrency: params.concurrency,
      seconds: over(runs.map((r) => r.firstCycle.seconds)),
      requestsPerSecond: over(runs.map((r) => r.firstCycle.requestsPerSecond)),
      serverEventLoopDelayMaxMs: over(runs.map((r) => r.firstCycle.server.maxMs)),
      serverEventLoopDelayP99Ms: over(runs.map((r) => r.firstCycle.server.p99Ms)),
      serverGcPauseMaxMs: over(runs.map((r) => r.firstCycle.server.gcPauseMaxMs)),
      serverCpuMsPerRequest: over(runs.map((r) => r.firstCycle.server.cpuMsPerRequest)),
    },
    /** a group PATCH and the scoped run it triggers (the push source is read whole): the daemon's loop over that window */
    patchRun: runs.map((r) => r.patchRun),
    seedSeconds: runs[0]!.seedSeconds,
    /** the run the daemon starts with reads the whole source (not a look-up): its own event-loop figures */
    startRun: runs.map((r) => r.startRun),
    storeMiB: runs[0]!.storeMiB,
  };
}

export function lookupsLine(s: ReturnType<typeof summarizeLookups>): string {
  const floor = s.byKind.baselineHealthz!;
  return (
    `push look-ups (${s.params.users} users, ${s.memberships} memberships, real daemon): p99 ${s.lookupP99Ms.median} ms [${s.lookupP99Ms.min}–${s.lookupP99Ms.max}] (target ≤ 5), ` +
    `server event-loop delay max ${s.serverEventLoopDelayMaxMs.median} ms [${s.serverEventLoopDelayMaxMs.min}–${s.serverEventLoopDelayMaxMs.max}] (target ≤ 20; ` +
    `${s.floorEventLoopDelayMaxMs.median} ms [${s.floorEventLoopDelayMaxMs.min}–${s.floorEventLoopDelayMaxMs.max}] as long over /healthz alone), ` +
    `floor /healthz p99 ${floor.p99Ms.median} ms, ${s.serverCpuMsPerLookup.median} ms server CPU per look-up; ` +
    `a page at any offset p50 ${s.pageAtAnyOffset.p50Ms.median} ms, max ${s.pageAtAnyOffset.maxMs.median}; ` +
    `first cycle of ${s.firstCycle.users} users ${s.firstCycle.seconds.median} s (${s.firstCycle.requestsPerSecond.median} requests/s)\n`
  );
}
