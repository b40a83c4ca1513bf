import type Database from 'better-sqlite3';
import type { ConversationView, DriftView, HeldRun, JournalView, RunRow, RunView, SourceView } from './view-types.js';

export type { ConversationView, DriftView, HeldRun, JournalView, RunView, SourceView } from './view-types.js';

const RUN_COLUMNS = `id, mode, triggered_by, scoped, started_at, finished_at, result, exit_code, error, summary`;
const json = (text: string | null): unknown => (text === null ? null : (JSON.parse(text) as unknown));
/** members in a `member_sets.refs` list ("3,17,42"), counted without splitting it */
const REF_COUNT = `CASE WHEN s.refs IS NULL OR s.refs = '' THEN 0 ELSE length(s.refs) - length(replace(s.refs, ',', '')) + 1 END`;
/** a binding with its member counts and its last journaled call (alias b) */
const BINDINGS = `SELECT b.key, b.conversation_id, b.name, b.state, b.groups, b.updated_at, b.unmanageable, ${REF_COUNT} AS members,
    (SELECT count(*) FROM member_origins o WHERE o.conversation_id = b.conversation_id) AS external,
    (SELECT count(*) FROM leavers l WHERE l.conversation_id = b.conversation_id) AS leavers,
    (SELECT max(j.started_at) FROM journal j WHERE j.binding_key = b.key) AS last_op
  FROM bindings b LEFT JOIN member_sets s ON s.conversation_id = b.conversation_id AND b.state <> 'deleted'`;

/**
 * What the daemon's status page shows, read from the store. Reads only: the page changes nothing
 * but through the daemon (approve, sync now).
 */
export class StatusViews {
  constructor(private readonly db: Database.Database) {}

  /** the newest run's id (0 when none), to tell which run a call starts */
  lastRunId(): number {
    return (this.db.prepare(`SELECT coalesce(max(id), 0) FROM runs`).pluck().get() as number) ?? 0;
  }

  runs(limit: number): RunView[] {
    const rows = this.db.prepare(`SELECT ${RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?`).all(limit) as RunRow[];
    return this.withOps(rows);
  }

  /**
   * Runs whose held-back ops wait for approval: those that hold ops of their own (a run that holds
   * an op only because an earlier one did leaves it to that run; a full run's hold supersedes an
   * earlier full run's), minus those an approve run released.
   */
  heldRuns(): HeldRun[] {
    const ids = this.heldRunIds();
    if (ids.length === 0) return [];
    const rows = this.db
      .prepare(`SELECT ${RUN_COLUMNS} FROM runs WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id DESC`)
      .all(JSON.stringify(ids)) as RunRow[];
    const plan = this.db.prepare(`SELECT coalesce(r.plan, o.plan) FROM runs r LEFT JOIN runs o ON o.id = r.plan_of WHERE r.id = ?`).pluck();
    return this.withOps(rows)
      .map((run) => ({ run, plan: json((plan.get(run.id) as string | null | undefined) ?? null) }))
      .filter((h) => h.plan !== null);
  }

  /** the ids of `heldRuns`, newest first, without reading their plans */
  heldRunIds(): number[] {
    return this.db
      .prepare(
        `SELECT r.id FROM runs r
         WHERE r.id IN (SELECT run_id FROM held_ops)
           AND r.approved_by IS NULL
           AND NOT EXISTS (SELECT 1 FROM runs a WHERE a.mode = 'approve' AND a.id > r.id AND json_extract(a.summary, '$.approved') = r.id)
           AND (r.plan IS NOT NULL OR r.plan_of IS NOT NULL)
         ORDER BY r.id DESC`,
      )
      .pluck()
      .all() as number[];
  }

  /**
   * Why a run cannot be approved: only a sync's held-back ops are approved, and once. A run a later
   * full run superseded still can be (an approval queued behind the daemon's run in flight): each
   * op is checked against a fresh plan then.
   */
  notApprovable(id: number): string | undefined {
    const row = this.db.prepare(`SELECT mode, approved_by FROM runs WHERE id = ?`).get(id) as { mode: string; approved_by: number | null } | undefined;
    if (row?.mode !== 'sync') return `run ${id} was a ${row?.mode ?? 'pruned'} run: only what a sync held back can be approved`;
    const by =
      row.approved_by ??
      (this.db
        .prepare(`SELECT id FROM runs WHERE mode = 'approve' AND id > ? AND json_extract(summary, '$.approved') = ? ORDER BY id LIMIT 1`)
        .pluck()
        .get(id, id) as number | undefined);
    return by === undefined ? undefined : `run ${id} was approved already, by run ${by}`;
  }

  /**
   * The newest full run that planned everything, and its plan (none when it planned nothing or was
   * pruned). A run that failed before it planned, one that found nothing changed (it plans nothing)
   * and one that planned only the groups that changed say nothing of the other conversations.
   */
  latestPlan(): { runId: number; plan: unknown } | undefined {
    const row = this.db
      .prepare(
        `SELECT r.id, coalesce(r.plan, o.plan) AS plan FROM runs r LEFT JOIN runs o ON o.id = r.plan_of
         WHERE r.mode = 'sync' AND r.scoped = 0 AND r.finished_at IS NOT NULL AND r.result NOT IN ('error', 'unchanged')
           AND json_extract(r.summary, '$.partial') IS NOT 1
         ORDER BY r.id DESC LIMIT 1`,
      )
      .get() as { id: number; plan: string | null } | undefined;
    return row?.plan ? { runId: row.id, plan: json(row.plan) } : undefined;
  }

  /** bound conversations, the members known in them, and calls still pending */
  totals(): { conversations: number; members: number; pending: number } {
    return this.db
      .prepare(
        `SELECT (SELECT count(*) FROM bindings WHERE state = 'bound') AS conversations,
           (SELECT coalesce(sum(${REF_COUNT}), 0) FROM bindings b JOIN member_sets s ON s.conversation_id = b.conversation_id WHERE b.state = 'bound') AS members,
           (SELECT count(*) FROM journal WHERE status = 'pending') AS pending`,
      )
      .get() as { conversations: number; members: number; pending: number };
  }

  sources(): SourceView[] {
    const rows = this.db
      .prepare(
        `SELECT n.source, s.groups, s.memberships, s.updated_at, r.read_at
         FROM (SELECT source FROM source_state UNION SELECT source FROM source_reads) n
         LEFT JOIN source_state s ON s.source = n.source LEFT JOIN source_reads r ON r.source = n.source ORDER BY n.source`,
      )
      .all() as { source: string; groups: number | null; memberships: number | null; updated_at: string | null; read_at: string | null }[];
    return rows.map((r) => ({ source: r.source, groups: r.groups, memberships: r.memberships, sizedAt: r.updated_at, readAt: r.read_at }));
  }

  /** owned conversations (bound or let go), those matching `search` in key, name, groups or id */
  conversations(opts: { search?: string; limit: number; failuresSince: string }): { rows: ConversationView[]; total: number } {
    const where = `WHERE b.key NOT LIKE 'replaced:%' AND (@q IS NULL OR instr(lower(b.key || ' ' || b.name || ' ' || b.groups || ' ' || b.conversation_id), lower(@q)) > 0)`;
    const q = opts.search?.trim() ? opts.search.trim() : null;
    const total = this.db.prepare(`SELECT count(*) FROM bindings b ${where}`).pluck().get({ q }) as number;
    const rows = this.db
      .prepare(`${BINDINGS} ${where} ORDER BY b.state = 'bound' DESC, b.name, b.key LIMIT @limit`)
      .all({ q, limit: opts.limit }) as BindingRow[];
    const failures = this.failuresSince(opts.failuresSince);
    return { rows: rows.map((r) => toConversation(r, failures.get(r.key) ?? [])), total };
  }

  conversation(
    key: string,
    historyLimit: number,
    failuresSince: string,
  ): { conversation: ConversationView; history: JournalView[]; drift: DriftView[] } | undefined {
    const row = this.db.prepare(`${BINDINGS} WHERE b.key = ?`).get(key) as BindingRow | undefined;
    if (!row) return undefined;
    const rows = this.db
      .prepare(
        `SELECT id, run_id, op, status, payload, reason, error_kind, error_label, started_at, finished_at FROM journal WHERE binding_key = ? ORDER BY id DESC LIMIT ?`,
      )
      .all(key, historyLimit) as JournalRow[];
    const history = rows.map(toJournal);
    const failures = this.failuresSince(failuresSince, key);
    return { conversation: toConversation(row, failures.get(key) ?? []), history, drift: this.drift({ limit: historyLimit, key }) };
  }

  /** what refreshes found changed by hand, newest first */
  drift(opts: { limit: number; key?: string; kind?: string }): DriftView[] {
    const rows = this.db
      .prepare(
        `SELECT d.run_id, d.binding_key, b.name, d.conversation_id, d.kind, d.user_id, d.detail, d.detected_at FROM drift d LEFT JOIN bindings b ON b.key = d.binding_key
         WHERE (@key IS NULL OR d.binding_key = @key) AND (@kind IS NULL OR d.kind = @kind) ORDER BY d.id DESC LIMIT @limit`,
      )
      .all({ key: opts.key ?? null, kind: opts.kind ?? null, limit: opts.limit }) as {
      run_id: number;
      binding_key: string;
      name: string | null;
      conversation_id: string;
      kind: string;
      user_id: string | null;
      detail: string | null;
      detected_at: string;
    }[];
    return rows.map((r) => ({
      runId: r.run_id,
      key: r.binding_key,
      name: r.name,
      conversationId: r.conversation_id,
      kind: r.kind,
      userId: r.user_id,
      detail: r.detail,
      detectedAt: r.detected_at,
    }));
  }

  /** per conversation: calls that failed since `since` and after its last successful call, newest first */
  private failuresSince(since: string, key?: string): Map<string, ConversationView['failures']> {
    const rows = this.db
      .prepare(
        `SELECT f.binding_key, f.op, f.error_kind, f.error_label, f.started_at, CASE WHEN f.error_kind = 'refused' THEN f.payload END FROM journal f
         WHERE f.started_at >= @since AND f.status = 'failed' ${key === undefined ? '' : 'AND f.binding_key = @key'}
           AND f.id > coalesce((SELECT max(d.id) FROM journal d WHERE d.binding_key = f.binding_key AND d.status = 'done'), 0)
         ORDER BY f.id DESC`,
      )
      .raw()
      .all(key === undefined ? { since } : { since, key }) as [string, string, string | null, string | null, string, string | null][];
    const out = new Map<string, ConversationView['failures']>();
    for (const [k, op, kind, label, at, payload] of rows) {
      // a refused user's call is journaled alone: name the user
      const members = payload === null ? undefined : (JSON.parse(payload) as { members?: string[] }).members;
      const list = out.get(k) ?? [];
      list.push({ op, kind, label, at, ...(members?.length === 1 ? { userId: members[0]! } : {}) });
      out.set(k, list);
    }
    return out;
  }

  private withOps(rows: RunRow[]): RunView[] {
    if (rows.length === 0) return [];
    const counts = this.db
      .prepare(`SELECT run_id, op, status, count(*) FROM journal WHERE run_id IN (SELECT value FROM json_each(?)) GROUP BY run_id, op, status`)
      .raw()
      .all(JSON.stringify(rows.map((r) => r.id))) as [number, string, 'done' | 'failed' | 'pending', number][];
    const ops = new Map<number, RunView['ops']>();
    for (const [run, op, status, n] of counts) {
      const byOp = ops.get(run) ?? {};
      (byOp[op] ??= {})[status] = n;
      ops.set(run, byOp);
    }
    return rows.map((r) => ({
      id: r.id,
      mode: r.mode,
      trigger: r.triggered_by,
      scoped: r.scoped === 1,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      result: r.result,
      exitCode: r.exit_code,
      error: r.error,
      summary: json(r.summary),
      ops: ops.get(r.id) ?? {},
    }));
  }
}

type BindingRow = {
  key: string;
  conversation_id: string;
  name: string;
  state: string;
  groups: string;
  updated_at: string;
  unmanageable: string | null;
  members: number;
  external: number;
  leavers: number;
  last_op: string | null;
};

function toConversation(r: BindingRow, failures: ConversationView['failures']): ConversationView {
  // a deleted binding's conversation id may have members under another binding
  const kept = r.state !== 'deleted';
  return {
    key: r.key,
    conversationId: r.conversation_id,
    name: r.name,
    state: r.state,
    groups: JSON.parse(r.groups) as string[],
    members: kept ? r.members : 0,
    external: kept ? r.external : 0,
    leavers: kept ? r.leavers : 0,
    updatedAt: r.updated_at,
    lastOpAt: r.last_op,
    unmanageable: r.unmanageable,
    failures,
  };
}

type JournalRow = {
  id: number;
  run_id: number;
  op: string;
  status: string;
  payload: string;
  reason: string;
  error_kind: string | null;
  error_label: string | null;
  started_at: string;
  finished_at: string | null;
};

function toJournal(j: JournalRow): JournalView {
  const members = (JSON.parse(j.payload) as { members?: string[] }).members ?? [];
  return {
    id: j.id,
    runId: j.run_id,
    op: j.op,
    status: j.status,
    members: members.length,
    sample: members.slice(0, 3),
    reason: j.reason,
    errorKind: j.error_kind,
    errorLabel: j.error_label,
    startedAt: j.started_at,
    finishedAt: j.finished_at,
  };
}
