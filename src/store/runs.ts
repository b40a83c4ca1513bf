import type Database from 'better-sqlite3';
import { createHash } from 'node:crypto';

const now = () => new Date().toISOString();

export type RunMode = 'sync' | 'dry-run' | 'plan' | 'apply' | 'approve' | 'migrate';

/** a run's number as an operator writes it (`approve 42`): digits only, so that `1e1` or `0x10` names no run */
export function runNumberOf(text: string | undefined): number | undefined {
  return text !== undefined && /^[1-9][0-9]{0,14}$/.test(text) ? Number(text) : undefined;
}

export interface RunRow {
  id: number;
  mode: RunMode;
  startedAt: string;
  finishedAt: string | null;
  result: string | null;
  exitCode: number | null;
  summary: unknown;
  error: string | null;
}

/** a plan with nothing to do, hold or say: the run's summary says all of it */
function isEmptyPlan(plan: unknown): boolean {
  const p = plan as { ops?: unknown[]; blocked?: unknown[]; warnings?: unknown[] } | null;
  return !!p && Array.isArray(p.ops) && p.ops.length === 0 && (p.blocked?.length ?? 0) === 0 && (p.warnings?.length ?? 0) === 0;
}

/**
 * Runs and the plans they computed. A plan is stored once however many runs computed it (a group
 * held back every five minutes plans the same thing each time): a run whose plan equals the last
 * stored one points to it (`plan_of`). A run that plans nothing keeps its summary only.
 */
/** how a run ended: its result label and exit code, the summary shown by `status`, the plan it computed */
export interface RunEnd {
  result: string;
  exitCode: number;
  summary: unknown;
  plan?: unknown;
  /** what went wrong, for a run that ended in an error */
  error?: string;
}

export class RunStore {
  private last: { json: string; digest: string; holder: number } | undefined;

  constructor(private readonly db: Database.Database) {}

  /** retention moved or dropped plans: what `finish` remembers may be stale */
  forgetLastPlan(): void {
    this.last = undefined;
  }

  /** `scoped`: a run of the groups a push or a SAML login changed, guarded together over a window */
  start(mode: RunMode, opts: { scoped?: boolean } = {}): number {
    return Number(this.db.prepare(`INSERT INTO runs (mode, started_at, scoped) VALUES (?, ?, ?)`).run(mode, now(), opts.scoped ? 1 : 0).lastInsertRowid);
  }

  finish(id: number, { result, exitCode, summary, plan, error }: RunEnd): void {
    const stored = plan === undefined || isEmptyPlan(plan) ? undefined : JSON.stringify(plan);
    // the last plan stored is remembered, so a repeated plan costs one comparison, not a hash
    const same = stored !== undefined && this.last?.json === stored ? this.last : undefined;
    const digest = stored === undefined ? null : same ? same.digest : createHash('sha256').update(stored).digest('hex');
    const holder = this.db.transaction(() => {
      const h = same?.holder ?? (digest === null ? undefined : this.holderOf(digest, id));
      this.db
        // a run another writer marked interrupted (this one had lost the lease) keeps that mark
        .prepare(
          `UPDATE runs SET finished_at = ?, result = ?, exit_code = ?, summary = ?, plan = ?, plan_digest = ?, plan_of = ?, error = ? WHERE id = ? AND finished_at IS NULL`,
        )
        .run(now(), result, exitCode, JSON.stringify(summary ?? null), h === undefined ? (stored ?? null) : null, digest, h ?? null, error ?? null, id);
      return h;
    })();
    // remembered only once committed: a failed commit must not leave a pointer to a plan never stored
    if (stored !== undefined && digest !== null) this.last = { json: stored, digest, holder: holder ?? id };
  }

  /** runs that will never finish (with `id`, that one, if it has not), recorded as errors with why */
  interrupted(why: string, id?: number): void {
    this.db
      .prepare(`UPDATE runs SET finished_at = ?, result = 'error', exit_code = 1, error = ? WHERE finished_at IS NULL AND (? IS NULL OR id = ?)`)
      .run(now(), `interrupted: ${why}`, id ?? null, id ?? null);
  }

  /** the run holding the text of an earlier identical plan */
  private holderOf(digest: string, before: number): number | undefined {
    const row = this.db.prepare(`SELECT id, plan_of FROM runs WHERE plan_digest = ? AND id < ? ORDER BY id DESC LIMIT 1`).get(digest, before) as
      { id: number; plan_of: number | null } | undefined;
    return row ? (row.plan_of ?? row.id) : undefined;
  }

  /** the plan a run computed; undefined when it planned nothing or its plan was pruned */
  /** the mode a run was made in, undefined when there is no such run (or it was pruned) */
  mode(id: number): RunMode | undefined {
    return this.db.prepare(`SELECT mode FROM runs WHERE id = ?`).pluck().get(id) as RunMode | undefined;
  }

  plan(id: number): unknown {
    const row = this.db.prepare(`SELECT coalesce(r.plan, o.plan) AS plan FROM runs r LEFT JOIN runs o ON o.id = r.plan_of WHERE r.id = ?`).get(id) as
      { plan: string | null } | undefined;
    return row?.plan ? (JSON.parse(row.plan) as unknown) : undefined;
  }

  /** what asked for the runs after `afterId` that say nothing yet (the daemon's runs; see StatusViews) */
  recordTrigger(afterId: number, trigger: string): void {
    this.db.prepare(`UPDATE runs SET triggered_by = ? WHERE id > ? AND triggered_by IS NULL`).run(trigger, afterId);
  }

  /** kept on the approved run itself: the approve run may be pruned before it */
  approved(id: number, by: number): void {
    this.db.prepare(`UPDATE runs SET approved_by = ? WHERE id = ?`).run(by, id);
  }

  /** whether a run of this id was recorded (and not pruned) */
  exists(id: number): boolean {
    return this.db.prepare(`SELECT 1 FROM runs WHERE id = ?`).get(id) !== undefined;
  }

  recent(limit: number): RunRow[] {
    const rows = this.db
      .prepare(`SELECT id, mode, started_at, finished_at, result, exit_code, summary, error FROM runs ORDER BY id DESC LIMIT ?`)
      .all(limit) as {
      id: number;
      mode: RunMode;
      started_at: string;
      finished_at: string | null;
      result: string | null;
      exit_code: number | null;
      summary: string | null;
      error: string | null;
    }[];
    return rows.map((r) => ({
      id: r.id,
      mode: r.mode,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      result: r.result,
      exitCode: r.exit_code,
      summary: r.summary === null ? null : (JSON.parse(r.summary) as unknown),
      error: r.error,
    }));
  }
}
