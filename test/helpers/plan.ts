import { summarize } from '../../src/plan/compute.js';
import type { Plan, PlanOp } from '../../src/plan/types.js';

/** a plan of these ops, as computePlan would wrap them, for tests that hand ops to the reconciler */
export function planOf(ops: PlanOp[]): Plan {
  return { version: 1, ownerId: 'convsync', policy: 'sync', snapshotDigest: 'sha256:x', ops, blocked: [], warnings: [], summary: summarize(ops, []) };
}
