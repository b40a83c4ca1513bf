import type { RetentionPolicy } from '../../src/store/retention.js';

export const DAY = 86_400_000;
/** the defaults of `retention` and `identity.cacheTtlHours` */
export const POLICY: RetentionPolicy = {
  runsMaxAgeMs: 90 * DAY,
  runsMaxCount: 10_000,
  plansMaxCount: 500,
  identityTtlMs: DAY,
  samlLoginsMaxAgeMs: 400 * DAY,
  guardWindowMs: 3_600_000,
};

/** a plan holding back one group over the backend's 500-member cap: about 58 KB of JSON */
export function heldBackPlan(day: number) {
  const members = Array.from({ length: 620 + (day % 7) }, (_, i) => `user-${String(i).padStart(5, '0')}-3b1f0c2e-9d7a-4c55-8f0e-5a6b7c8d9e0f@example.com`);
  return {
    ops: [],
    blocked: [
      {
        kind: 'capacity',
        why: `team-all has ${members.length} members, more than the backend allows (500)`,
        op: { op: 'add', key: 'idp:team-all', conversationId: 'c-1', members, reason: 'group team-all' },
      },
    ],
    warnings: ['team-all is held back: too large for the backend'],
    summary: { create: 0, add: 0, remove: 0, rename: 0, blocked: 1, quarantined: false },
  };
}
