/** What the store keeps of each source's reads, and of the last complete plan (see source-reads.ts). */

export interface ReadState {
  /** opaque to the store: where the next incremental read starts */
  cursor: string | null;
  /** opaque to the store: the content of a source read whole, as a digest */
  fingerprint: string | null;
  /** ISO time of the last full read */
  fullReadAt: string | null;
  /** ISO time of the last good read */
  readAt: string;
}

export interface ReadGroup {
  id: string;
  displayName: string;
  /** member ids: users, or groups where the source did not say which */
  members: string[];
  /** member ids the source said are groups */
  nested?: string[];
  /** opaque, source-defined */
  data?: string;
}

export interface ReadUser {
  id: string;
  /** opaque, source-defined (the source's own record of the user) */
  data: string;
}

export interface ReadChanges {
  /** changed or new groups, each replaced whole */
  groups: readonly ReadGroup[];
  deletedGroups: readonly string[];
  /** changed or new users, each replaced whole */
  users: readonly ReadUser[];
  deletedUsers: readonly string[];
}

/** where a good read leaves the source; `at` is its time (ISO) */
export interface ReadMark {
  at: string;
  cursor?: string | null;
  fingerprint?: string | null;
}

/** what the last complete plan was made from: a run that finds all of it unchanged need not plan */
export interface PlanStamp {
  runId: number;
  /** ISO time the plan was made */
  at: string;
  /** ISO time of the last full plan (a partial plan keeps its predecessor's); absent in stamps before partial plans */
  fullAt?: string;
  /** digest of the configuration that matters to a plan, and the convsync version */
  config: string;
  /** the last journal row when the run ended: any op since changed the snapshot */
  journalMax: number;
  /** the last drift refresh when the run ended */
  refreshRun: number;
  /** each source's version as the plan read it */
  sources: Record<string, number>;
  /** the digest of the snapshot as the run left it, when it changed nothing ('' otherwise) */
  snapshotDigest: string;
}
