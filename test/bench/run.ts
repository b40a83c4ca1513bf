import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { applyEfficiency, type ApplyParams } from './apply.js';
import { startLdapBench } from './ldap.js';
import { planBench, WORKLOADS, type Workload } from './plan.js';
import { pushLatency } from './push-latency.js';
import { LOOKUP_PARAMS, lookupsLine, pushLookups, summarizeLookups } from './push-lookups.js';
import { scimPull } from './scim-pull.js';
import { cliSyncBench } from './sync-cli.js';
import { syncBench } from './sync.js';
import { spread } from './spread.js';

/**
 * `npm run bench`: each benchmark several times, JSON to stdout and to test/bench/results/latest.json,
 * then a short table. Figures are for the machine it ran on (stated in the output), never a CI gate.
 */
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** which benchmarks: push (latency and look-ups; lookups alone: the look-ups), plan, sync, cli, apply, pull, ldap (all by default) */
const ONLY = new Set((process.env.BENCH_ONLY ?? 'push,plan,sync,cli,apply,pull,ldap').split(','));
const workload = (name: string): Workload => WORKLOADS.find((w) => w.name === name)!;

async function repeat<T>(what: string, fn: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < RUNS; i++) {
    process.stderr.write(`bench: ${what}, run ${i + 1} of ${RUNS}\n`);
    out.push(await fn());
  }
  return out;
}

async function main() {
  const machine = { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) };
  const pushParams = { changes: 200, intervalMs: 50, groups: 10, wireLatencyMs: 20, debounceMs: 1000 };
  const push = ONLY.has('push') ? await repeat('push latency', () => pushLatency(pushParams)) : [];
  const lookups = ONLY.has('push') || ONLY.has('lookups') ? await repeat('push look-ups', () => pushLookups(LOOKUP_PARAMS)) : [];
  const sizes = (process.env.BENCH_SIZES ?? 'S,L,XL').split(',');
  const plans: Record<string, Awaited<ReturnType<typeof planBench>>[]> = {};
  for (const w of ONLY.has('plan') ? WORKLOADS.filter((x) => sizes.includes(x.name)) : []) plans[w.name] = await repeat(`plan ${w.name}`, () => planBench(w));
  const syncs = ONLY.has('sync') ? await repeat('sync L', () => syncBench(workload('L'))) : [];
  const applyParams: ApplyParams = { groups: 500, membersPerGroup: 100, users: 5000, latencyMs: 20, ratePerSecond: 50, concurrency: 4 };
  const applies: Record<string, Awaited<ReturnType<typeof applyEfficiency>>[]> = {};
  for (const backend of ONLY.has('apply') ? (['wire', 'protocol', 'mixin'] as const) : [])
    applies[backend] = await repeat(`apply S on ${backend}`, () => applyEfficiency(backend, applyParams));
  const cliTargets: Record<string, number> = { L: 0.5, XL: 0.8 };
  const clis: Record<string, Awaited<ReturnType<typeof cliSyncBench>>> = {};
  const layouts = (process.env.BENCH_CLI_LAYOUTS ?? 'file,directory').split(',');
  for (const name of ONLY.has('cli') && layouts.includes('file') ? ['L', 'XL'].filter((n) => sizes.includes(n)) : []) {
    process.stderr.write(`bench: sync ${name} through the CLI, ${RUNS} runs of each\n`);
    clis[name] = await cliSyncBench(workload(name), { runs: RUNS, changeShare: 0.001 });
  }
  // the same users and groups as a directory of a users file and a file per group (a GitOps layout):
  // a change parses only the files that changed
  for (const name of ONLY.has('cli') && layouts.includes('directory') ? ['L'].filter((n) => sizes.includes(n)) : []) {
    process.stderr.write(`bench: sync ${name} as a directory of a file per group through the CLI, ${RUNS} runs of each\n`);
    clis[`${name}-directory`] = await cliSyncBench(workload(name), { runs: RUNS, changeShare: 0.001, layout: 'directory' });
  }
  const pullParams = { concurrency: 8, pageSize: 100, changedGroups: 10 };
  const pulls = ONLY.has('pull') ? await repeat('SCIM pull L', () => scimPull(workload('L'), pullParams)) : [];
  const ldapParams = { pageSize: 1000 };
  const ldapBench = ONLY.has('ldap') ? await startLdapBench(workload('L'), ldapParams) : undefined;
  const ldapReads = ldapBench ? await repeat('LDAP read L', () => ldapBench.read()).finally(() => ldapBench.close()) : [];
  const planTargets: Record<string, number> = { L: 1, XL: 2.5 };
  const results = {
    when: new Date().toISOString(),
    machine,
    benchmarks: {
      plan: Object.fromEntries(
        Object.entries(plans).map(([name, runs]) => [
          name,
          {
            what: 'snapshot load from SQLite + mapping and identity + diff (a no-op plan), after the file source read the directory',
            workload: runs[0]!.workload,
            targetPlanSeconds: planTargets[name] ?? null,
            planSeconds: spread(runs.map((r) => r.planSeconds)),
            phasesSeconds: Object.fromEntries(
              Object.keys(runs[0]!.phasesSeconds).map((k) => [k, spread(runs.map((r) => r.phasesSeconds[k as keyof typeof r.phasesSeconds]))]),
            ),
            peakRssMiB: spread(runs.map((r) => r.peakRssMiB)),
            storeMiB: Math.round(runs[0]!.storeBytes / 2 ** 20),
            opsPlanned: runs.map((r) => r.opsPlanned),
          },
        ]),
      ),
      sync:
        syncs.length === 0
          ? undefined
          : {
              what: 'whole runs (runOnce) on L from a file source against the Wire sandbox (no latency, no rate limit): initial full sync, a run with nothing changed, then runs after 0.1% and after a further 1% of memberships changed',
              workload: syncs[0]!.workload,
              target: { noopSecondsPlusSourceRead: 1.5, noopWrites: 0 },
              fullSeconds: spread(syncs.map((r) => r.full.seconds)),
              fullWrites: syncs.map((r) => r.full.writes),
              noopSeconds: spread(syncs.map((r) => r.noop.seconds)),
              noopSourceReadSeconds: spread(syncs.map((r) => r.noop.sourceReadSeconds)),
              noopRestSeconds: spread(syncs.map((r) => r.noop.restSeconds)),
              noopWrites: syncs.map((r) => r.noop.writes),
              incremental: syncs[0]!.incremental.map((first, i) => {
                const runs = syncs.map((r) => r.incremental[i]!);
                return {
                  share: first.share,
                  membershipsChanged: first.membershipsChanged,
                  seconds: spread(runs.map((r) => r.seconds)),
                  restSeconds: spread(runs.map((r) => r.restSeconds)),
                  beyondNoopSeconds: spread(runs.map((r) => r.beyondNoopSeconds)),
                  writes: runs.map((r) => r.writes),
                  msPerWrite: spread(runs.map((r) => r.msPerWrite)),
                  ratioToFull: spread(runs.map((r) => r.ratioToFull)),
                };
              }),
              storeMiB: syncs[0]!.storeMiB,
            },
      syncCli:
        Object.keys(clis).length === 0
          ? undefined
          : {
              what: '`node dist/cli.js sync` as a process (file source, Wire sandbox on loopback) after the initial sync: runs with nothing changed (no read, no plan); the baseline, the same with a full plan forced (reconcile.fullPlanEvery=0s, every run before); `--help` as the floor of any run; three runs, each after 0.1% more of memberships changed, with their writes and their window on the Wire side; then the daemon (`node dist/cli.js daemon`) over the same store: `POST /sync?wait=true` with nothing changed, and five times after 0.1% more moved, from request to answer, with writes and window',
              sizes: Object.fromEntries(
                Object.entries(clis).map(([name, r]) => [
                  name,
                  {
                    workload: r.workload,
                    layout: r.layout,
                    targetNoopSeconds: cliTargets[name] ?? null,
                    noopSeconds: spread(r.noopSeconds),
                    baselineFullPlanSeconds: spread(r.fullPlanNoopSeconds),
                    ratioToBaseline: Math.round((spread(r.noopSeconds).median / spread(r.fullPlanNoopSeconds).median) * 1000) / 1000,
                    floorSeconds: spread(r.floorSeconds),
                    initialSyncInProcessSeconds: r.initialSyncInProcessSeconds,
                    change: { ...r.change, targetBeyondWritesSeconds: name.startsWith('L') ? 0.5 : null },
                    // then a hire in one group and one user's attribute edited
                    hire: r.hire,
                    // the same change synced by the daemon (POST /sync?wait=true), its process and store up between runs
                    daemon: {
                      noopSeconds: r.daemon.noopSeconds,
                      changes: r.daemon.changes,
                      beyondWritesSeconds: spread(r.daemon.changes.map((c) => c.beyondWritesSeconds)),
                    },
                    fileMiB: r.fileMiB,
                  },
                ]),
              ),
            },
      apply:
        Object.keys(applies).length === 0
          ? undefined
          : {
              what: 'initial sync of S through the CLI; the sandbox answers each call after 20 ms; convsync limited to ratePerSecond (burst 1); apply window timed by the sandbox',
              params: applyParams,
              target: { overLowerBound: 0.1, callRatio: 1 },
              backends: Object.fromEntries(
                Object.entries(applies).map(([b, runs]) => [
                  b,
                  {
                    writes: runs.map((r) => r.writes),
                    minimumWrites: runs[0]!.minimumWrites,
                    callRatio: runs.map((r) => r.callRatio),
                    applySeconds: spread(runs.map((r) => r.applySeconds)),
                    lowerBoundSeconds: runs[0]!.lowerBoundSeconds,
                    overLowerBound: spread(runs.map((r) => r.overLowerBound)),
                    cliWallSeconds: spread(runs.map((r) => r.cliWallSeconds)),
                  },
                ]),
              ),
            },
      scimPull:
        pulls.length === 0
          ? undefined
          : {
              what: 'the SCIM source reading L from the SCIM sandbox (scimmy, in a child process): groups paged without members, each group read, users paged',
              workload: workload('L'),
              params: pullParams,
              seconds: spread(pulls.map((r) => r.seconds)),
              groupsPerSecond: spread(pulls.map((r) => r.groupsPerSecond)),
              requests: pulls[0]!.requests,
              noChange: {
                target: { shareOfFullCrawl: 0.01 },
                probeRequests: pulls.map((r) => r.noChange.probe.requests),
                probeShareOfFullCrawl: pulls.map((r) => r.noChange.probe.shareOfFullCrawl),
                probeSeconds: spread(pulls.map((r) => r.noChange.probe.seconds)),
                incrementalReadRequests: pulls.map((r) => r.noChange.incrementalRead.requests),
                incrementalReadShareOfFullCrawl: pulls.map((r) => r.noChange.incrementalRead.shareOfFullCrawl),
                incrementalReadSeconds: spread(pulls.map((r) => r.noChange.incrementalRead.seconds)),
              },
              changed: {
                groups: pullParams.changedGroups,
                probeRequests: pulls.map((r) => r.changed.probe.requests),
                incrementalReadRequests: pulls.map((r) => r.changed.incrementalRead.requests),
                incrementalReadSeconds: spread(pulls.map((r) => r.changed.incrementalRead.seconds)),
              },
            },
      ldap:
        ldapReads.length === 0
          ? undefined
          : {
              what: "the LDAP source's full read of L from Debian's slapd on loopback (groupOfNames with member DNs, paged): groups, users, nested expansion, stored with its cursor",
              workload: workload('L'),
              params: ldapParams,
              setupSeconds: ldapBench!.setupSeconds,
              seconds: spread(ldapReads.map((r) => r.seconds)),
              requests: ldapReads[0]!.requests,
              entries: ldapReads[0]!.entries,
              memberships: ldapReads[0]!.memberships,
              peakRssMiB: spread(ldapReads.map((r) => r.peakRssMiB)),
              heapAfterMiB: spread(ldapReads.map((r) => r.heapAfterMiB)),
              scheduledNoChange: {
                what: 'a scheduled run after the full read, nothing changed (directory last modified a day before): what changed() asks (id-only listings, the queries for what changed since the modifyTimestamp cursor), and the incremental read a run makes when it reads anyway',
                check: {
                  requests: ldapReads[0]!.scheduled.check.requests,
                  entries: ldapReads[0]!.scheduled.check.entries,
                  seconds: spread(ldapReads.map((r) => r.scheduled.check.seconds)),
                },
                incrementalRead: {
                  requests: ldapReads[0]!.scheduled.incrementalRead.requests,
                  entries: ldapReads[0]!.scheduled.incrementalRead.entries,
                  seconds: spread(ldapReads.map((r) => r.scheduled.incrementalRead.seconds)),
                },
              },
            },
      pushLatency:
        push.length === 0
          ? undefined
          : {
              what: 'SCIM PATCH accepted → the Wire call carrying it (real daemon, default debounce, Wire sandbox)',
              params: pushParams,
              target: { p95Ms: 2000 },
              p50Ms: spread(push.map((r) => r.p50Ms)),
              p95Ms: spread(push.map((r) => r.p95Ms)),
              maxMs: spread(push.map((r) => r.maxMs)),
              backendAddCalls: push.map((r) => r.backendAddCalls),
            },
      pushLookups: lookups.length === 0 ? undefined : summarizeLookups(lookups),
    },
  };
  const json = JSON.stringify(results, null, 2);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/latest.json', import.meta.url), `${json}\n`);
  process.stdout.write(`${json}\n\n`);
  for (const [name, b] of Object.entries(results.benchmarks.plan)) {
    process.stdout.write(
      `plan ${name} (${b.workload.memberships} memberships): ${b.planSeconds.median} s [${b.planSeconds.min}–${b.planSeconds.max}]` +
        `${b.targetPlanSeconds ? ` (target ≤ ${b.targetPlanSeconds} s)` : ''}, snapshot load ${b.phasesSeconds.snapshotLoad!.median} s, ` +
        `diff ${b.phasesSeconds.diff!.median} s, source parse ${b.phasesSeconds.sourceParse!.median} s, peak RSS ${b.peakRssMiB.median} MiB, store ${b.storeMiB} MiB\n`,
    );
  }
  const p = results.benchmarks.pushLatency;
  if (p) {
    process.stdout.write(
      `push latency (${RUNS} runs of ${pushParams.changes} changes): p50 ${p.p50Ms.median} ms [${p.p50Ms.min}–${p.p50Ms.max}], ` +
        `p95 ${p.p95Ms.median} ms [${p.p95Ms.min}–${p.p95Ms.max}] (target ≤ 2000), max ${p.maxMs.median} ms\n`,
    );
  }
  if (results.benchmarks.pushLookups) process.stdout.write(lookupsLine(results.benchmarks.pushLookups));
  const y = results.benchmarks.sync;
  if (y) {
    process.stdout.write(
      `sync L: full ${y.fullSeconds.median} s; no-op ${y.noopSeconds.median} s [${y.noopSeconds.min}–${y.noopSeconds.max}] = source read ${y.noopSourceReadSeconds.median} s + rest ${y.noopRestSeconds.median} s ` +
        `[${y.noopRestSeconds.min}–${y.noopRestSeconds.max}] (target ≤ 1.5), writes ${y.noopWrites.join('/')}\n`,
    );
    for (const c of y.incremental) {
      process.stdout.write(
        `sync L, ${c.share * 100}% of memberships changed: ${c.seconds.median} s [${c.seconds.min}–${c.seconds.max}], ${c.writes[0]} writes, ` +
          `${c.beyondNoopSeconds.median} s beyond a no-op run (${c.msPerWrite.median} ms per write), ratio to full ${c.ratioToFull.median}\n`,
      );
    }
  }
  for (const [b, a] of Object.entries(results.benchmarks.apply?.backends ?? {})) {
    process.stdout.write(
      `apply S on ${b}: ${a.writes[0]} writes (minimum ${a.minimumWrites}, ratio ${a.callRatio.join('/')}), ${a.applySeconds.median} s [${a.applySeconds.min}–${a.applySeconds.max}] against a lower bound of ${a.lowerBoundSeconds} s (+${Math.round(a.overLowerBound.median * 1000) / 10}%, target ≤ +10%)\n`,
    );
  }
  const q = results.benchmarks.scimPull;
  if (q) {
    process.stdout.write(
      `SCIM pull L: ${q.seconds.median} s [${q.seconds.min}–${q.seconds.max}], ${q.groupsPerSecond.median} groups/s, concurrency ${q.params.concurrency}, ${q.requests} requests\n`,
    );
    process.stdout.write(
      `SCIM pull L, nothing changed: ${q.noChange.probeRequests[0]} requests to tell (${q.noChange.probeShareOfFullCrawl[0]} of a full crawl, target ≤ 0.01), ` +
        `an incremental read ${q.noChange.incrementalReadRequests[0]} requests in ${q.noChange.incrementalReadSeconds.median} s; ${q.changed.groups} groups changed: ${q.changed.incrementalReadRequests[0]} requests\n`,
    );
  }
  for (const [name, c] of Object.entries(results.benchmarks.syncCli?.sizes ?? {})) {
    process.stdout.write(
      `convsync sync ${name} (CLI process), nothing changed: ${c.noopSeconds.median} s [${c.noopSeconds.min}–${c.noopSeconds.max}] (target ≤ ${c.targetNoopSeconds}), ` +
        `baseline full plan ${c.baselineFullPlanSeconds.median} s (ratio ${c.ratioToBaseline}), process floor ${c.floorSeconds.median} s; ` +
        `0.1% changed (${c.change.runs.length} runs): ${c.change.runs.map((x) => `${x.seconds} s, ${x.writes} writes in ${x.writesWindowSeconds} s`).join('; ')}; ` +
        `${c.change.beyondWritesSeconds.median} s [${c.change.beyondWritesSeconds.min}–${c.change.beyondWritesSeconds.max}] beyond the writes; ` +
        `a hire and an edited user: ${c.hire.seconds} s, ${c.hire.beyondWritesSeconds} s beyond the writes${c.hire.followedFileByFile ? '' : ' (read whole)'}; ` +
        `the daemon, nothing changed: ${c.daemon.noopSeconds} s, 0.1% changed: ${c.daemon.beyondWritesSeconds.median} s [${c.daemon.beyondWritesSeconds.min}–${c.daemon.beyondWritesSeconds.max}] beyond the writes\n`,
    );
  }
  const l = results.benchmarks.ldap;
  if (l) {
    process.stdout.write(
      `LDAP read L: ${l.seconds.median} s [${l.seconds.min}–${l.seconds.max}], ${l.requests} requests, ${l.entries} entries, ${l.memberships} memberships, peak RSS ${l.peakRssMiB.median} MiB (setup ${l.setupSeconds} s); ` +
        `scheduled, nothing changed: changed() ${l.scheduledNoChange.check.seconds.median} s, ${l.scheduledNoChange.check.requests} requests, ${l.scheduledNoChange.check.entries} entries; ` +
        `incremental read ${l.scheduledNoChange.incrementalRead.seconds.median} s, ${l.scheduledNoChange.incrementalRead.requests} requests, ${l.scheduledNoChange.incrementalRead.entries} entries\n`,
    );
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
