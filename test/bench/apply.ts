import { startHarness } from '../helpers/harness.js';

export interface ApplyParams {
  groups: number;
  membersPerGroup: number;
  users: number;
  latencyMs: number;
  ratePerSecond: number;
  concurrency: number;
}

/**
 * An initial sync of S through the real CLI against one backend's sandbox answering each call after
 * `latencyMs`, with convsync held to `ratePerSecond` (its token bucket, burst 1; the sandboxes
 * do not throttle). The apply window is timed on the sandbox's side, from the first write to the
 * last answer; its lower bound is (writes − 1) ÷ rate. The minimum writes is one create per
 * conversation (each backend takes the members with the create, up to its limit).
 */
export async function applyEfficiency(backend: 'wire' | 'protocol' | 'mixin', p: ApplyParams) {
  const faults = { latencyMs: p.latencyMs };
  const h = await startHarness({
    backend,
    groups: p.groups,
    membersPerGroup: p.membersPerGroup,
    users: p.users,
    wire: { faults },
    protocolFaults: faults,
    mixinFaults: faults,
    config: {
      reconcile: { ratePerSecond: p.ratePerSecond, burst: 1, concurrency: p.concurrency, baseDelayMs: 20, maxDelayMs: 2000 },
      guards: { maxRemovalsPerRun: 100, maxRemovalRatio: 0.5, removalRatioMinMembers: 10, protect: [] },
      log: { level: 'error' },
    },
  });
  try {
    const started = Date.now();
    const res = await h.cli(['sync']);
    const wallSeconds = (Date.now() - started) / 1000;
    if (res.code !== 0) throw new Error(`sync exited ${res.code}: ${res.stderr.slice(0, 500)}`);
    const writes = h.chatWrites();
    const conversations = h.chatState().size;
    if (conversations !== p.groups) throw new Error(`${conversations} conversations for ${p.groups} groups`);
    const first = Math.min(...writes.map((w) => w.at)) - p.latencyMs;
    const last = Math.max(...writes.map((w) => w.at));
    const applySeconds = (last - first) / 1000;
    const lowerBoundSeconds = (writes.length - 1) / p.ratePerSecond;
    return {
      backend,
      writes: writes.length,
      minimumWrites: p.groups,
      callRatio: Math.round((writes.length / p.groups) * 100) / 100,
      applySeconds: Math.round(applySeconds * 100) / 100,
      lowerBoundSeconds: Math.round(lowerBoundSeconds * 100) / 100,
      overLowerBound: Math.round((applySeconds / lowerBoundSeconds - 1) * 1000) / 1000,
      cliWallSeconds: Math.round(wallSeconds * 100) / 100,
      violations: h.chatViolations().length,
    };
  } finally {
    await h.close();
  }
}
