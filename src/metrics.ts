import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';

/**
 * The daemon's metrics, `convsync_*` (Prometheus naming: base units, `_total` counters). Labels
 * stay low-cardinality: never a group, user or conversation id.
 */
export function createMetrics(opts: { storeLogBytes?: () => number } = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'convsync_process_' });
  const m = {
    registry,
    runs: new Counter({
      name: 'convsync_runs_total',
      help: 'Runs by result (ok, changes, quarantined, failed, error, …)',
      labelNames: ['result'],
      registers: [registry],
    }),
    runsSkipped: new Counter({ name: 'convsync_runs_skipped_total', help: 'Scheduled runs skipped because a full run was still going', registers: [registry] }),
    runDuration: new Histogram({
      name: 'convsync_run_duration_seconds',
      help: 'Duration of runs',
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900],
      registers: [registry],
    }),
    ops: new Counter({ name: 'convsync_ops_total', help: 'Backend calls made by op and result', labelNames: ['op', 'result'], registers: [registry] }),
    lastSuccess: new Gauge({ name: 'convsync_last_success_timestamp_seconds', help: 'End of the last run that did not fail', registers: [registry] }),
    backendRequests: new Counter({
      name: 'convsync_backend_requests_total',
      help: 'HTTP answers from the chat backend by status',
      labelNames: ['backend', 'status'],
      registers: [registry],
    }),
    consecutiveFailures: new Gauge({ name: 'convsync_consecutive_failures', help: 'Runs in a row that failed', registers: [registry] }),
    quarantined: new Gauge({ name: 'convsync_quarantined', help: '1 while a run holds removals back (guards) and waits for approval', registers: [registry] }),
    storeBytes: new Gauge({ name: 'convsync_store_bytes', help: 'Size of the SQLite store file (pruned by retention after each run)', registers: [registry] }),
    storeLogBytes: new Gauge({
      name: 'convsync_store_log_bytes',
      help: "Size of the SQLite store's write-ahead log (-wal) at the scrape; it keeps growing while a reader holds back its copy into the database",
      registers: [registry],
      collect() {
        try {
          if (opts.storeLogBytes) this.set(opts.storeLogBytes());
        } catch {
          // a file that cannot be read now leaves the last size, rather than fail the whole scrape
        }
      },
    }),
    heldRemovals: new Gauge({
      name: 'convsync_held_removals',
      help: 'Member removals held back by guards and waiting for approval (by the last run or an earlier one)',
      registers: [registry],
    }),
    unmanageable: new Gauge({
      name: 'convsync_conversations_unmanageable',
      help: 'Owned conversations whose members the backend no longer lets convsync change (a Wire group migrated to MLS)',
      registers: [registry],
    }),
    refusedUsers: new Gauge({
      name: 'convsync_refused_users',
      help: 'Users the backend refused lately (not offered again until it expires)',
      registers: [registry],
    }),
    driftMembers: new Gauge({
      name: 'convsync_drift_members',
      help: 'Members added by hand or who left by themselves, found by the last refresh',
      registers: [registry],
    }),
    pushRequests: new Counter({
      name: 'convsync_scim_push_requests_total',
      help: 'SCIM push requests by method and status',
      labelNames: ['method', 'status'],
      registers: [registry],
    }),
    samlLogins: new Counter({
      name: 'convsync_saml_logins_total',
      help: 'SAML responses posted to the ACS, by result (accepted, rejected, error)',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
  registry.registerMetric(eventLoopDelay());
  registry.registerMetric(gcPauseMax());
  return m;
}

/**
 * How late the event loop ran since the last scrape, sampled every millisecond (the default
 * metrics sample every 10 ms, which hides up to 10 ms of a block): `stat` max, p99, p50, mean.
 */
function eventLoopDelay(): Metric {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  return new Gauge({
    name: 'convsync_event_loop_delay_seconds',
    help: 'Event-loop delay since the last scrape (1 ms resolution), by stat: max, p99, p50, mean',
    labelNames: ['stat'],
    registers: [],
    collect() {
      const seconds = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
      this.set({ stat: 'max' }, seconds(histogram.max));
      this.set({ stat: 'p99' }, seconds(histogram.percentile(99)));
      this.set({ stat: 'p50' }, seconds(histogram.percentile(50)));
      this.set({ stat: 'mean' }, seconds(histogram.mean));
      histogram.reset();
    },
  });
}

/** the longest garbage-collector pause since the last scrape (the loop waits for it too) */
function gcPauseMax(): Metric {
  let max = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) max = Math.max(max, e.duration);
  }).observe({ entryTypes: ['gc'] });
  return new Gauge({
    name: 'convsync_gc_pause_max_seconds',
    help: 'Longest garbage-collector pause since the last scrape',
    registers: [],
    collect() {
      this.set(max / 1000);
      max = 0;
    },
  });
}

export type Metrics = ReturnType<typeof createMetrics>;
