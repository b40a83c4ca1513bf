import { hasChanges } from '../plan/compute.js';
import type { Plan } from '../plan/types.js';
import type { ApplyResult } from './reconciler.js';

export const EXIT = { ok: 0, error: 1, changes: 2, quarantined: 3, config: 78 } as const;

/** any failure → 1; else guards held removals back → 3; else (with --detailed-exitcode) changes → 2 */
export function exitCodeOf(plan: Plan, result: ApplyResult | undefined, readErrors: string[], detailed: boolean): number {
  if (readErrors.length > 0) return EXIT.error;
  // a conversation the backend no longer lets convsync manage needs the operator; a create still
  // looked for after a lost answer leaves the run unfinished
  if ((plan.summary.unmanageable ?? 0) > 0 || plan.blocked.some((b) => b.kind === 'pending')) return EXIT.error;
  // a capacity block or a refused user is reported as a warning; the rest of the run went through
  if (result && (result.failed.some((f) => f.kind !== 'capacity' && f.kind !== 'refused') || result.circuitOpen || result.skipped > 0)) return EXIT.error;
  if (plan.summary.quarantined) return EXIT.quarantined;
  if (detailed && hasChanges(plan)) return EXIT.changes;
  return EXIT.ok;
}

export function resultLabel(exitCode: number, result: ApplyResult | undefined): string {
  if (result?.circuitOpen) return 'circuit-open';
  if (result?.authFailed) return 'auth-failed';
  return { 0: 'ok', 1: 'failed', 2: 'changes', 3: 'quarantined' }[exitCode] ?? 'failed';
}

export function summarizeResult(r: ApplyResult) {
  return {
    done: r.done,
    failed: r.failed.length,
    skipped: r.skipped,
    circuitOpen: r.circuitOpen,
    dryRun: r.dryRun,
    refused: r.refused?.length,
  };
}

/** two applies of one run (the users made first, then the rest) as one result */
export function mergeResults(a: ApplyResult | undefined, b: ApplyResult): ApplyResult {
  if (!a) return b;
  const doneByOp = { ...a.doneByOp };
  for (const [op, n] of Object.entries(b.doneByOp) as [keyof ApplyResult['doneByOp'], number][]) doneByOp[op] = (doneByOp[op] ?? 0) + n;
  return {
    dryRun: a.dryRun,
    done: a.done + b.done,
    doneByOp,
    failed: [...a.failed, ...b.failed],
    skipped: a.skipped + b.skipped,
    circuitOpen: a.circuitOpen || b.circuitOpen,
    ...(a.refused || b.refused ? { refused: [...(a.refused ?? []), ...(b.refused ?? [])] } : {}),
    ...((a.authFailed ?? b.authFailed) ? { authFailed: a.authFailed ?? b.authFailed } : {}),
  };
}
