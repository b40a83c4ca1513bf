import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { planBench, WORKLOADS } from './plan.js';
import { pushLatency } from './push-latency.js';

/**
 * `npm run bench`: each benchmark several times, JSON to stdout and to test/bench/results/latest.json,
 * then a short table. Figures are for the machine it ran on (stated in the output), never a CI gate.
 */
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function spread(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted.at(-1)!, runs: values };
}

async function main() {
  const machine = { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) };
  const pushParams = { changes: 200, intervalMs: 50, groups: 10, wireLatencyMs: 20, debounceMs: 1000 };
  const push = [];
  for (let i = 0; i < RUNS; i++) push.push(await pushLatency(pushParams));
  const sizes = (process.env.BENCH_SIZES ?? 'S,L').split(',');
  const plans: Record<string, Awaited<ReturnType<typeof planBench>>[]> = {};
  for (const w of WORKLOADS.filter((x) => sizes.includes(x.name))) {
    plans[w.name] = [];
    for (let i = 0; i < RUNS; i++) plans[w.name]!.push(await planBench(w));
  }
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
            phasesSeconds: Object.fromEntries(Object.keys(runs[0]!.phasesSeconds).map((k) => [k, spread(runs.map((r) => r.phasesSeconds[k as keyof typeof r.phasesSeconds]))])),
            peakRssMiB: spread(runs.map((r) => r.peakRssMiB)),
            storeMiB: Math.round(runs[0]!.storeBytes / 2 ** 20),
            opsPlanned: runs.map((r) => r.opsPlanned),
          },
        ]),
      ),
      pushLatency: {
        what: 'SCIM PATCH accepted → the Wire call carrying it (real daemon, default debounce, Wire sandbox)',
        params: pushParams,
        target: { p95Ms: 2000 },
        p50Ms: spread(push.map((r) => r.p50Ms)),
        p95Ms: spread(push.map((r) => r.p95Ms)),
        maxMs: spread(push.map((r) => r.maxMs)),
        backendAddCalls: push.map((r) => r.backendAddCalls),
      },
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
  process.stdout.write(
    `push latency (${RUNS} runs of ${pushParams.changes} changes): p50 ${p.p50Ms.median} ms [${p.p50Ms.min}–${p.p50Ms.max}], ` +
      `p95 ${p.p95Ms.median} ms [${p.p95Ms.min}–${p.p95Ms.max}] (target ≤ 2000), max ${p.maxMs.median} ms\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
