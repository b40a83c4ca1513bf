import type * as z from 'zod';
import type { ContactOp, PlanOp as PlanOpSchema, RemovedGroupAction as RemovedGroupActionSchema } from './ops.js';
import type { MemberList, MemberOrigin } from '../members/member-list.js';
import type { UserIds } from '../members/user-ids.js';
import type { Policy, RemoveMode } from '../config/schema.js';

/** What happens to a conversation whose groups are gone. */
export type RemovedGroupAction = z.infer<typeof RemovedGroupActionSchema>;

export type { MemberOrigin };

/** What the store knows of one owned conversation. */
export interface SnapshotConversation {
  /** binding key */
  key: string;
  conversationId: string;
  ownerId: string;
  name: string;
  /** backend user ids and who added them (the daemon itself is not listed) */
  members: MemberList;
  /** group keys that fed this conversation at the last run */
  groups: string[];
  onGroupRemoved: RemovedGroupAction;
  /** members who left on their own (found by a refresh), sorted */
  leavers?: string[];
  /** the backend no longer lets convsync change its members, and why (with the remedy) */
  unmanageable?: string;
}

export interface Snapshot {
  conversations: SnapshotConversation[];
  /** the numbering of the members' user ids; mapping numbers the wanted members in it too, so the plan compares numbers */
  users?: UserIds;
  /** binding keys whose conversation was deleted by hand */
  gone?: string[];
  /** owned conversations let go (unbound) with the members they had: a group that comes back is bound to its old one again */
  unbound?: SnapshotConversation[];
}

/** One conversation as the directory and the mapping rules want it. */
export interface DesiredConversation {
  key: string;
  name: string;
  /** index of the mapping rule that produced it */
  rule: number;
  remove: RemoveMode;
  onGroupRemoved: RemovedGroupAction;
  /** add again a member who left the conversation on their own */
  readdLeavers: boolean;
  /** create the conversation again when it was deleted by hand */
  recreateDeleted: boolean;
  /** group keys that feed it, sorted */
  groups: string[];
  /** backend user ids */
  members: MemberList;
  /** false when any feeding group's membership is unknown: its removals are frozen */
  complete: boolean;
  unknownReasons: string[];
  /** a feeding group read empty after having members: its removals wait for approval (guard) */
  suspect?: boolean;
}

export interface Guards {
  maxRemovalsPerRun: number;
  maxRemovalRatio: number;
  removalRatioMinMembers: number;
  maxDeletesPerRun: number;
  maxUnbindsPerRun: number;
  protect: string[];
  maxSourceShrink?: number;
}

export interface PlanInput {
  desired: DesiredConversation[];
  snapshot: Snapshot;
  /** the snapshot holds only the conversations a plan of what changed looks at: it has no digest */
  snapshotIsPart?: boolean;
  policy: Policy;
  ownerId: string;
  /** the daemon's own backend user id: never removed, never invited */
  selfId: string;
  guards: Guards;
  /** most members a conversation may have, the daemon included (undefined: no limit) */
  maxMembers?: number;
  /** longest conversation name the backend takes, in code points (undefined: no limit) */
  maxNameLength?: number;
  /** what the backend can do with a removed group's conversation */
  can?: { archive: boolean; delete: boolean };
  /** sources whose group listing failed: their absent groups are unknown, not gone */
  incompleteSources: string[];
  /** removals approved for this run (`--allow-removals`) */
  allowRemovals: boolean;
  /** guards that tripped before the plan (a source that shrank): the run is quarantined */
  tripped?: string[];
  /** a scoped run (push, SAML login): what the scoped runs of the guard window already did, counted with this run */
  window?: { removals: number; deletes: number; unbinds: number; span: string; removalsByKey?: ReadonlyMap<string, number> };
  /** removals, deletes, archives and unbinds an earlier run held back ("op key" → that run): held until approved */
  held?: ReadonlyMap<string, number>;
  /**
   * Conversations this plan may take over but never lets go, empties, archives or deletes: a
   * scoped run's, which cannot tell whether a group it did not read feeds them, or holds them only
   * so that a new conversation of their name may take one over.
   */
  neverLetGo?: ReadonlySet<string>;
  /** keys of creates whose answer was lost and that are still looked for: not planned again */
  inFlight?: ReadonlySet<string>;
  /** users the backend refused lately, with why: not offered again until that expires */
  refused?: ReadonlyMap<string, string>;
  /** users the backend would have to create before they can be members (Protocol contacts): planned first */
  newUsers?: ContactOp[];
  /** warnings gathered before the plan (sources, identity) */
  warnings: string[];
}

export type { AddOp, ArchiveOp, ContactOp, CreateOp, DeleteOp, RebindOp, RemoveOp, RenameOp, UnbindOp } from './ops.js';
/** one op of a plan (the shape is the zod schema's in `ops.ts`) */
export type PlanOp = z.infer<typeof PlanOpSchema>;
export type OpType = PlanOp['op'];

/**
 * Why an op is not in the plan. Only `guard` holds a run in quarantine (exit 3); the others are
 * the plan doing its job and are listed so `explain` and the text plan can say why.
 */
export type BlockKind = 'guard' | 'frozen' | 'policy' | 'capacity' | 'ownership' | 'drift' | 'unmanageable' | 'pending';

export interface BlockedOp {
  kind: BlockKind;
  why: string;
  op: PlanOp;
}

export interface PlanSummary {
  contact: number;
  create: number;
  rebind: number;
  add: number;
  remove: number;
  rename: number;
  unbind: number;
  archive: number;
  delete: number;
  /** member additions across create and add */
  membersAdded: number;
  membersRemoved: number;
  blocked: number;
  /** owned conversations whose members the backend no longer lets convsync change */
  unmanageable?: number;
  /** true when a guard tripped: removals and deletes held back until approved */
  quarantined: boolean;
}

export interface Plan {
  version: 1;
  ownerId: string;
  policy: Policy;
  /**
   * digest of the snapshot the plan was computed on; `apply` refuses a plan whose snapshot moved.
   * Empty for a plan of what changed, which saw the conversations of its groups only (such a plan
   * is applied by the run that made it, never saved to a file), and for a run that planned nothing
   * because nothing changed since a plan whose digest was not kept.
   */
  snapshotDigest: string;
  /** a plan saved to a file (`convsync plan --out`): the run that made it, whose record `apply` checks the file's ops against */
  runId?: number;
  ops: PlanOp[];
  blocked: BlockedOp[];
  warnings: string[];
  summary: PlanSummary;
}
