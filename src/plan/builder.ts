import { sourceOfGroup } from '../group-key.js';
import type { MemberList } from '../members/member-list.js';
import { byCodeUnit as cmp } from '../members/member-list.js';
import type { AddOp, BlockedOp, BlockKind, CreateOp, DesiredConversation, OpType, PlanInput, PlanOp, RemoveOp, SnapshotConversation } from './types.js';

// binding a conversation again is what creating it would be, without a second conversation
export const POLICY_ALLOWS: Record<PlanInput['policy'], ReadonlySet<OpType>> = {
  sync: new Set(['contact', 'create', 'rebind', 'rename', 'remove', 'add', 'unbind', 'archive', 'delete']),
  'upsert-only': new Set(['contact', 'create', 'rebind', 'rename', 'add', 'unbind']),
  'create-only': new Set(['contact', 'create', 'rebind']),
};

export interface RemovalCandidate {
  op: RemoveOp;
  /** members before the run, the daemon not counted */
  size: number;
}

/** adds wait until the guards have decided whether the removals go ahead (capacity depends on it) */
export interface PendingAdd {
  d: DesiredConversation;
  snap: SnapshotConversation;
  adds: string[];
}

export function reasonOf(d: DesiredConversation): string {
  return `${d.groups.join(', ')} → mapping #${d.rule}`;
}

/**
 * What the stages of `computePlan` build together: the ops, what is blocked and why, warnings,
 * and the removals and adds that wait for the guards.
 */
export class PlanBuilder {
  readonly ops: PlanOp[] = [];
  readonly blocked: BlockedOp[] = [];
  readonly warnings: string[];
  readonly removals: RemovalCandidate[] = [];
  readonly pendingAdds: PendingAdd[] = [];
  readonly allowed: ReadonlySet<OpType>;
  /** never removed: the daemon and `guards.protect` */
  readonly never: ReadonlySet<string>;
  /** keys of left-behind conversations a desired one took over */
  readonly claimed = new Set<string>();
  unmanageable = 0;
  readonly snapshotByKey: ReadonlyMap<string, SnapshotConversation>;
  /** owned conversations let go earlier, by key: a group that comes back takes its own again */
  readonly unboundByKey: ReadonlyMap<string, SnapshotConversation>;
  /** keys whose conversation was deleted by hand */
  readonly gone: ReadonlySet<string>;
  private readonly refusedNow = new Set<string>();
  /** owned conversations no group wants any more, by name: a desired one of the same name takes them over */
  private readonly leaving = new Map<string, SnapshotConversation[]>();
  /** owned conversations let go earlier whose group is not back, by name: taken over when no bound one is */
  private readonly letGo = new Map<string, SnapshotConversation[]>();

  constructor(readonly input: PlanInput) {
    this.allowed = POLICY_ALLOWS[input.policy];
    this.warnings = [...input.warnings];
    this.never = new Set([input.selfId, ...input.guards.protect]);
    this.ops.push(...(input.newUsers ?? []));
    this.snapshotByKey = new Map(input.snapshot.conversations.map((c) => [c.key, c]));
    this.unboundByKey = new Map((input.snapshot.unbound ?? []).filter((c) => c.ownerId === input.ownerId).map((c) => [c.key, c]));
    this.gone = new Set(input.snapshot.gone ?? []);
    const desiredKeys = new Set(input.desired.map((d) => d.key));
    for (const c of input.snapshot.conversations) {
      if (c.ownerId !== input.ownerId || desiredKeys.has(c.key) || this.fromIncompleteSource(c.groups)) continue;
      this.leaving.set(c.name, [...(this.leaving.get(c.name) ?? []), c]);
    }
    for (const c of this.unboundByKey.values()) if (!desiredKeys.has(c.key)) this.letGo.set(c.name, [...(this.letGo.get(c.name) ?? []), c]);
  }

  block(kind: BlockKind, why: string, op: PlanOp): void {
    this.blocked.push({ kind, why, op });
  }

  /** an op the policy allows is planned, another is blocked saying so */
  allowOrBlock(op: PlanOp, doesNot: string): void {
    if (this.allowed.has(op.op)) this.ops.push(op);
    else this.block('policy', `policy ${this.input.policy} does not ${doesNot}`, op);
  }

  fromIncompleteSource(groups: readonly string[]): boolean {
    return groups.some((g) => this.input.incompleteSources.includes(sourceOfGroup(g)));
  }

  /** the one conversation leaving under this name, if there is exactly one */
  claimLeaving(name: string): SnapshotConversation | undefined {
    const unclaimed = (list: SnapshotConversation[] | undefined) => (list ?? []).filter((c) => !this.claimed.has(c.key));
    // one still bound first; else one let go earlier (a group deleted, then made again under a new id)
    const bound = unclaimed(this.leaving.get(name));
    const candidates = bound.length > 0 ? bound : unclaimed(this.letGo.get(name));
    if (candidates.length !== 1) return undefined;
    this.claimed.add(candidates[0]!.key);
    return candidates[0];
  }

  /** the daemon is never invited: it is in every conversation it makes */
  withoutSelf(list: MemberList): Int32Array {
    const self = list.users.find(this.input.selfId);
    return self !== undefined && list.hasRef(self) ? list.refs.filter((r) => r !== self) : list.refs;
  }

  /** a user the backend refused lately is not offered again (one bad user blocks nobody) */
  withoutRefused(list: string[]): string[] {
    const refused = this.input.refused;
    if (!refused || refused.size === 0) return list;
    return list.filter((m) => {
      if (!refused.has(m)) return true;
      this.refusedNow.add(m);
      return false;
    });
  }

  warnRefused(): void {
    if (this.refusedNow.size === 0) return;
    const named = [...this.refusedNow].sort(cmp).map((m) => `${m} (${this.input.refused!.get(m)})`);
    this.warnings.push(
      `${this.refusedNow.size} user(s) refused by the backend lately, not added: ${named.slice(0, 10).join(', ')}${named.length > 10 ? ', …' : ''}`,
    );
  }

  /** why the backend would refuse this name for good (too long), or undefined */
  nameRefused(name: string): string | undefined {
    const max = this.input.maxNameLength;
    const length = [...name].length;
    return max !== undefined && length > max ? `the name has ${length} characters, over the backend's limit of ${max}: shorten the mapping's name` : undefined;
  }

  /** a create, cut to what the backend allows; the rest is blocked for capacity */
  create(d: DesiredConversation, wanted: string[]): void {
    const op: PlanOp = { op: 'create', key: d.key, name: d.name, members: wanted, groups: d.groups, onGroupRemoved: d.onGroupRemoved, reason: reasonOf(d) };
    const max = this.input.maxMembers;
    this.withinCapacity(op, max === undefined ? Infinity : max - 1, d, wanted.length);
  }

  /** an add, cut to the room the conversation has after this run's removals */
  add(op: AddOp, room: number, d: DesiredConversation): void {
    this.withinCapacity(op, room, d, d.members.size);
  }

  private withinCapacity(op: CreateOp | AddOp, room: number, d: DesiredConversation, wanted: number): void {
    if (op.members.length <= room) {
      this.ops.push(op);
      return;
    }
    const fit = Math.max(0, room);
    if (fit > 0 || op.op === 'create') this.ops.push({ ...op, members: op.members.slice(0, fit) });
    const rest = op.members.slice(fit);
    this.warnings.push(
      `${d.key} ("${d.name}") wants ${wanted} members but the backend allows ${this.input.maxMembers} including convsync: ${rest.length} not added`,
    );
    this.block('capacity', `over the backend's limit of ${this.input.maxMembers} members`, { ...op, members: rest });
  }
}
