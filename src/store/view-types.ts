/** The shapes the status page reads (`StatusViews`), and the rows they are made of. */

/** one run as the status page lists it */
export interface RunView {
  id: number;
  mode: string;
  /** what asked for it (schedule, push, saml, api, page, approve, …); null when run from a shell */
  trigger: string | null;
  scoped: boolean;
  startedAt: string;
  finishedAt: string | null;
  result: string | null;
  exitCode: number | null;
  error: string | null;
  summary: unknown;
  /** backend calls journaled by this run: op → status → count */
  ops: Record<string, Partial<Record<'done' | 'failed' | 'pending', number>>>;
}

export interface HeldRun {
  run: RunView;
  /** the plan whose guard-blocked ops wait for approval */
  plan: unknown;
}

export interface SourceView {
  source: string;
  /** size at the last good full read (the guards' baseline) */
  groups: number | null;
  memberships: number | null;
  sizedAt: string | null;
  /** the last good read of any kind (incremental included) */
  readAt: string | null;
}

export interface ConversationView {
  key: string;
  conversationId: string;
  name: string;
  state: string;
  groups: string[];
  members: number;
  /** members added by hand (or there before an adoption) */
  external: number;
  leavers: number;
  updatedAt: string;
  /** the last backend call journaled for it */
  lastOpAt: string | null;
  unmanageable: string | null;
  /** failed calls since its last successful one, newest first */
  failures: { op: string; kind: string | null; label: string | null; at: string; userId?: string }[];
}

export interface JournalView {
  id: number;
  runId: number;
  op: string;
  status: string;
  members: number;
  /** the first few of them */
  sample: string[];
  reason: string;
  errorKind: string | null;
  errorLabel: string | null;
  startedAt: string;
  finishedAt: string | null;
}

export interface DriftView {
  runId: number;
  key: string;
  /** the conversation's name now (null when its binding is gone) */
  name: string | null;
  conversationId: string;
  kind: string;
  userId: string | null;
  detail: string | null;
  detectedAt: string;
}

export type RunRow = {
  id: number;
  mode: string;
  triggered_by: string | null;
  scoped: number;
  started_at: string;
  finished_at: string | null;
  result: string | null;
  exit_code: number | null;
  error: string | null;
  summary: string | null;
};
