import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The daemon's metrics, `convsync_*` (Prometheus naming: base units, `_total` counters). Labels
 * stay low-cardinality: never a group, user or conversation id.
 */
export function createMetrics() {
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
    runsSkipped: new Counter({ name: 'convsync_runs_skipped_total', help: 'Scheduled runs skipped because a run was still going', registers: [registry] }),
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
    quarantined: new Gauge({ name: 'convsync_quarantined', help: '1 while the last run held removals back (guards)', registers: [registry] }),
    storeBytes: new Gauge({ name: 'convsync_store_bytes', help: 'Size of the SQLite store file (pruned by retention after each run)', registers: [registry] }),
    heldRemovals: new Gauge({ name: 'convsync_held_removals', help: 'Member removals held back by guards in the last run', registers: [registry] }),
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
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
