import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import express from 'express';
import { pino } from 'pino';
import SCIMMY from 'scimmy';
import { Agent, request } from 'undici';
import type { ScimPushSourceConfig } from '../../src/config/schema.js';
import { mountScimPush } from '../../src/server/scim-push.js';
import { groupOut, storeAnswer, userOut } from '../../src/sources/scim-push/format.js';
import { Store } from '../../src/store/store.js';

export interface LookupParams {
  /** users made by the Entra-style first cycle (a look-up, then a POST, per user) */
  users: number;
  groups: number;
  membersPerGroup: number;
  /** timed requests per kind of look-up */
  samples: number;
  /** requests the first cycle keeps in flight */
  concurrency: number;
}

const LOOKUP_TOKEN = 'bench-token';
const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** the daemon's SCIM push routes in this process (so its event loop can be watched) over a SQLite file */
async function startProvider(dir: string) {
  writeFileSync(join(dir, 'tok'), LOOKUP_TOKEN);
  const store = Store.open(join(dir, 'db.sqlite'));
  const app = express();
  const source = { name: 'idp', type: 'scim-push', path: '/scim/v2', tokenFile: join(dir, 'tok') } as ScimPushSourceConfig;
  mountScimPush(app, { sources: [source], store, logger: pino({ level: 'silent' }), maxBodyBytes: 1_048_576, onChange: () => undefined });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  // the seeding holds the loop for seconds: idle connections must outlive it, not be reset under a request
  server.keepAliveTimeout = 600_000;
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/scim/v2`;
  const dispatcher = new Agent({ connections: 16, pipelining: 1 });
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const res = await request(base + path, {
      method,
      dispatcher,
      headers: { authorization: `Bearer ${LOOKUP_TOKEN}`, 'content-type': 'application/scim+json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.body.json()) as { totalResults?: number; id?: string; detail?: string };
    if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${json.detail ?? ''}`);
    return json;
  };
  const close = async () => {
    await dispatcher.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    store.close();
  };
  return { store, call, close };
}

type Provider = Awaited<ReturnType<typeof startProvider>>;
const userName = (i: number) => `user${i}@example.com`;

/** Entra's first cycle: for each user in scope, `userName eq` (absent), then a POST */
async function firstCycle(p: Provider, params: LookupParams) {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    for (let i = next++; i < params.users; i = next++) {
      const found = await p.call('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName(i)}"`)}`);
      if (found.totalResults !== 0) throw new Error(`${userName(i)} found before it was made`);
      await p.call('POST', '/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
        userName: userName(i),
        externalId: `ext-${i}`,
        active: true,
        displayName: `User ${i}`,
        emails: [{ type: 'work', value: `work${i}@corp.example`, primary: true }],
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: `d${i % 50}` },
      });
    }
  };
  await Promise.all(Array.from({ length: params.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { seconds: round(seconds), requests: params.users * 2, requestsPerSecond: round((params.users * 2) / seconds, 0) };
}

const context = (p: Provider) => ({ store: p.store, source: 'idp', path: '/scim/v2', changed: () => undefined });

/** groups and memberships written as the provider writes them, without HTTP: they are read by the look-ups, not measured */
function seedGroups(p: Provider, params: LookupParams): string[] {
  const users = p.store.push.userPage('idp', 0, params.users).map((u) => u.id);
  const now = new Date().toISOString();
  const groups: string[] = [];
  p.store.push.transaction(() => {
    for (let g = 0; g < params.groups; g++) {
      const id = `g-${String(g).padStart(6, '0')}`;
      const members = Array.from({ length: params.membersPerGroup }, (_, k) => users[(g * 7919 + k * 104_729) % users.length]!);
      const group = p.store.push.putGroup('idp', { id, displayName: `team-${g}`, externalId: `gx-${g}` }, now);
      p.store.push.addMembers('idp', id, members);
      storeAnswer(context(p), 'Group', group);
      groups.push(id);
    }
  });
  return groups;
}

/** the look-ups, one kind after another in turn, each `samples` times */
function lookupRequests(p: Provider, params: LookupParams, userIds: string[], groups: string[]): Record<string, (i: number) => string> {
  const f = (filter: string) => `filter=${encodeURIComponent(filter)}`;
  // spread over the directory, the same sequence in every run
  const at = (i: number, n: number) => (i * 2_654_435_761) % n;
  const group = (i: number) => groups[at(i, groups.length)]!;
  // half of the checks ask about a member, half about someone else (read here, not kept: a million ids would slow every GC)
  const member = (i: number) =>
    i % 2 === 0 ? p.store.push.memberRefs('idp', group(i))[i % params.membersPerGroup]!.value : userIds[at(i + 1, userIds.length)]!;
  return {
    userNameHit: (i) => `/Users?${f(`userName eq "${userName(at(i, params.users))}"`)}&startIndex=1&count=100`,
    userNameMiss: (i) => `/Users?${f(`userName eq "${i}-0000-4000-8000-000000000000"`)}`,
    externalId: (i) => `/Users?${f(`externalId eq "ext-${at(i, params.users)}"`)}`,
    id: (i) => `/Users?${f(`id eq "${userIds[at(i, userIds.length)]}"`)}`,
    workEmail: (i) => `/Users?${f(`emails[type eq "work"].value eq "work${at(i, params.users)}@corp.example"`)}`,
    groupDisplayName: (i) => `/Groups?excludedAttributes=members&${f(`displayName eq "team-${at(i, params.groups)}"`)}`,
    membershipCheck: (i) => `/Groups?excludedAttributes=members&${f(`id eq "${group(i)}" and members eq "${member(i)}"`)}`,
    membershipBracket: (i) => `/Groups?excludedAttributes=members&${f(`id eq "${group(i)}" and members[value eq "${member(i)}"]`)}`,
    // Okta's import: pages of 100, one after the other
    userPage: (i) => `/Users?startIndex=${1 + 100 * (i % Math.floor(params.users / 100))}&count=100`,
    groupPage: (i) => `/Groups?excludedAttributes=members&startIndex=${1 + 100 * (i % Math.floor(params.groups / 100))}&count=100`,
  };
}

/** pages asked for out of turn: OFFSET steps over every row before the page (not what the IdPs do) */
function randomPages(params: LookupParams): Record<string, (i: number) => string> {
  const at = (i: number, n: number) => (i * 2_654_435_761) % n;
  return { userPageOutOfTurn: (i) => `/Users?startIndex=${1 + 100 * at(i + 3, Math.floor(params.users / 100))}&count=100` };
}

/**
 * Watches this process while `fn` runs: the event loop's delays, the collector's longest pause (the
 * loop waits for it too, so it tells such waits from the requests' own work), and the CPU spent
 * per request (provider and client; unlike wall times, not inflated by other load on the machine).
 */
async function watched<T>(requests: (result: T) => number, fn: () => Promise<T>) {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  const cpu = process.cpuUsage();
  const gcPauses: number[] = [];
  const gc = new PerformanceObserver((list) => gcPauses.push(...list.getEntries().map((e) => e.duration)));
  gc.observe({ entryTypes: ['gc'] });
  loop.enable();
  const result = await fn();
  loop.disable();
  gc.disconnect();
  const { user, system } = process.cpuUsage(cpu);
  return {
    result,
    eventLoopDelay: { maxMs: round(loop.max / 1e6), p99Ms: round(loop.percentile(99) / 1e6), meanMs: round(loop.mean / 1e6) },
    gcPauseMaxMs: round(Math.max(0, ...gcPauses)),
    cpuMsPerRequest: round((user + system) / 1000 / requests(result), 3),
  };
}

async function timeLookups(p: Provider, requests: Record<string, (i: number) => string>, samples: number) {
  const times = new Map<string, number[]>(Object.keys(requests).map((k) => [k, []]));
  for (let i = 0; i < samples; i++) {
    for (const [kind, path] of Object.entries(requests)) {
      const started = performance.now();
      await p.call('GET', path(i));
      times.get(kind)!.push(performance.now() - started);
    }
  }
  const summary = (list: number[]) => {
    const sorted = [...list].sort((a, b) => a - b);
    return { p50Ms: round(percentile(sorted, 0.5)), p99Ms: round(percentile(sorted, 0.99)), maxMs: round(sorted.at(-1)!) };
  };
  return {
    byKind: Object.fromEntries([...times].map(([k, list]) => [k, summary(list)])),
    all: summary([...times.values()].flat()),
    requests: samples * times.size,
  };
}

/** the code the indexes replaced: every resource built, then scimmy's filter; timed for the ratio */
function fullBuildMs(p: Provider, kind: 'User' | 'Group', filter: string): number {
  const ctx = context(p);
  const started = performance.now();
  const all = kind === 'User' ? p.store.push.users('idp').map(userOut) : p.store.push.groups('idp').map((g) => groupOut(ctx, g, true));
  if (new SCIMMY.Types.Filter(filter).match(all).length !== 1) throw new Error(`the full build did not find ${filter}`);
  return round(performance.now() - started, 0);
}

/**
 * SCIM push look-ups at scale: an Entra-style first cycle makes the users, groups and memberships
 * are added to the store, then each kind of look-up Entra ID and Okta send is timed over loopback
 * HTTP while the provider's event loop is watched. The client runs in the same process, so the
 * latencies and loop delays include its own work (an upper bound for the provider alone).
 */
export async function pushLookups(params: LookupParams) {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-bench-'));
  const p = await startProvider(dir);
  try {
    const loadBefore = loadavg()[0]!;
    const cycle = await watched(
      (c) => c.requests,
      () => firstCycle(p, params),
    );
    const seedStarted = performance.now();
    const groups = seedGroups(p, params);
    const seedSeconds = round((performance.now() - seedStarted) / 1000);
    const userIds = p.store.push.userPage('idp', 0, params.users).map((u) => u.id);
    const timed = await watched(
      (t) => t.requests,
      () => timeLookups(p, lookupRequests(p, params, userIds, groups), params.samples),
    );
    const outOfTurn = await watched(
      (t) => t.requests,
      () => timeLookups(p, randomPages(params), Math.min(params.samples, 100)),
    );
    const baseline = {
      userNameFullBuildMs: [1, 2].map((i) => fullBuildMs(p, 'User', `userName eq "${userName(i * 7)}"`)),
      displayNameFullBuildMs: [1, 2].map((i) => fullBuildMs(p, 'Group', `displayName eq "team-${i * 7}"`)),
    };
    return {
      firstCycle: { ...cycle.result, cpuMsPerRequest: cycle.cpuMsPerRequest, eventLoopDelay: cycle.eventLoopDelay, gcPauseMaxMs: cycle.gcPauseMaxMs },
      /** the machine's 1-minute load average before and after: a shared 2-core box */
      loadAverage: [round(loadBefore), round(loadavg()[0]!)],
      seedSeconds,
      memberships: params.groups * params.membersPerGroup,
      lookups: timed.result.byKind,
      allLookups: timed.result.all,
      cpuMsPerLookup: timed.cpuMsPerRequest,
      eventLoopDelay: timed.eventLoopDelay,
      gcPauseMaxMs: timed.gcPauseMaxMs,
      pagesOutOfTurn: { ...outOfTurn.result.byKind.userPageOutOfTurn!, eventLoopDelay: outOfTurn.eventLoopDelay },
      baseline,
      ratioToBaseline: {
        userName: round(timed.result.byKind.userNameHit!.p50Ms / Math.min(...baseline.userNameFullBuildMs), 4),
        displayName: round(timed.result.byKind.groupDisplayName!.p50Ms / Math.min(...baseline.displayNameFullBuildMs), 4),
      },
      storeMiB: round(statSync(join(dir, 'db.sqlite')).size / 2 ** 20, 0),
    };
  } finally {
    await p.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 100k users and 1M memberships unless BENCH_PUSH_USERS says otherwise (a tenth as many groups, 100 members each) */
const lookupUsers = Number(process.env.BENCH_PUSH_USERS ?? 100_000);
export const LOOKUP_PARAMS: LookupParams = { users: lookupUsers, groups: Math.round(lookupUsers / 10), membersPerGroup: 100, samples: 1000, concurrency: 4 };

type LookupRun = Awaited<ReturnType<typeof pushLookups>>;
const over = (runs: number[]) => {
  const sorted = [...runs].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted.at(-1)!, runs };
};

/** the runs of `pushLookups`, as `npm run bench` reports them */
export function summarizeLookups(runs: LookupRun[], params = LOOKUP_PARAMS) {
  return {
    what:
      'SCIM push look-ups (the provider in the bench process, real SQLite file, loopback HTTP, client in the same process): an Entra-style first cycle ' +
      '(userName eq look-up then POST, per user), then each look-up kind Entra and Okta send, sequentially, while the event loop is watched',
    params,
    memberships: runs[0]!.memberships,
    target: { lookupP99Ms: 5, eventLoopDelayMaxMs: 20 },
    firstCycleSeconds: over(runs.map((r) => r.firstCycle.seconds)),
    firstCycleRequestsPerSecond: over(runs.map((r) => r.firstCycle.requestsPerSecond)),
    firstCycleEventLoopDelayMaxMs: over(runs.map((r) => r.firstCycle.eventLoopDelay.maxMs)),
    firstCycleGcPauseMaxMs: over(runs.map((r) => r.firstCycle.gcPauseMaxMs)),
    lookupP50Ms: over(runs.map((r) => r.allLookups.p50Ms)),
    lookupP99Ms: over(runs.map((r) => r.allLookups.p99Ms)),
    lookupMaxMs: over(runs.map((r) => r.allLookups.maxMs)),
    cpuMsPerLookup: over(runs.map((r) => r.cpuMsPerLookup)),
    firstCycleCpuMsPerRequest: over(runs.map((r) => r.firstCycle.cpuMsPerRequest)),
    loadAverage: runs.map((r) => r.loadAverage),
    eventLoopDelayMaxMs: over(runs.map((r) => r.eventLoopDelay.maxMs)),
    eventLoopDelayP99Ms: over(runs.map((r) => r.eventLoopDelay.p99Ms)),
    gcPauseMaxMs: over(runs.map((r) => r.gcPauseMaxMs)),
    byKind: Object.fromEntries(
      Object.keys(runs[0]!.lookups).map((k) => [k, { p50Ms: over(runs.map((r) => r.lookups[k]!.p50Ms)), p99Ms: over(runs.map((r) => r.lookups[k]!.p99Ms)) }]),
    ),
    pagesOutOfTurnP99Ms: over(runs.map((r) => r.pagesOutOfTurn.p99Ms)),
    baselineFullBuildMs: {
      userName: over(runs.flatMap((r) => r.baseline.userNameFullBuildMs)),
      displayName: over(runs.flatMap((r) => r.baseline.displayNameFullBuildMs)),
    },
    ratioToBaseline: { userName: over(runs.map((r) => r.ratioToBaseline.userName)), displayName: over(runs.map((r) => r.ratioToBaseline.displayName)) },
    storeMiB: runs[0]!.storeMiB,
  };
}

export function lookupsLine(s: ReturnType<typeof summarizeLookups>): string {
  return (
    `push look-ups (${s.params.users} users, ${s.memberships} memberships): p99 ${s.lookupP99Ms.median} ms [${s.lookupP99Ms.min}–${s.lookupP99Ms.max}] (target ≤ 5), ` +
    `event-loop delay max ${s.eventLoopDelayMaxMs.median} ms [${s.eventLoopDelayMaxMs.min}–${s.eventLoopDelayMaxMs.max}] (target ≤ 20), ` +
    `${s.cpuMsPerLookup.median} ms CPU per look-up, first cycle ${s.firstCycleSeconds.median} s (${s.firstCycleRequestsPerSecond.median} requests/s), ` +
    `full build before: ${s.baselineFullBuildMs.userName.median} ms per userName look-up\n`
  );
}
