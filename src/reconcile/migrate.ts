import { describeError } from '../errors.js';
import { summarize } from '../plan/compute.js';
import { snapshotDigest } from '../plan/digest.js';
import type { BlockedOp, Plan, PlanOp, SnapshotConversation } from '../plan/types.js';
import { canonicalIds } from './bookkeeping.js';
import { EXIT, exitCodeOf, resultLabel, summarizeResult } from './outcome.js';
import type { ApplyResult } from './reconciler.js';
import { reconcilerFor, type RunDeps, type RunOutcome } from './run.js';

/** what `--old rename` adds to the old conversation's name */
const MOVED = ' (moved)';

/** the old conversation's new name: its own, cut (in characters, as backends count them) where it and MOVED would not fit */
function movedName(name: string, maxLength: number | undefined): string {
  const chars = [...name];
  const room = maxLength === undefined ? chars.length : maxLength - MOVED.length;
  return `${chars.length > room ? chars.slice(0, room).join('') : name}${MOVED}`;
}

export interface MigrateOptions {
  dryRun: boolean;
  /** past guards.maxUnbindsPerRun conversations moved in one run */
  allowRemovals: boolean;
  /** what becomes of the old conversation: kept as it is, or renamed so its members see where it went */
  old: 'keep' | 'rename';
}

/**
 * `convsync migrate-to-channels`: every bound conversation of another kind than the backend now
 * makes (a Wire group, in channel mode) is made again in that kind, with the same name and
 * members, and its binding moves to it. Journaled like any create: a crash or a lost answer never
 * makes a channel twice, and a second run moves only what is left. Guarded like unbinds.
 */
export async function migrateConversations(deps: RunDeps, opts: MigrateOptions): Promise<RunOutcome> {
  const { store, backend, config, logger } = deps;
  const target = backend.capabilities.createsKind;
  if (target === undefined) throw new Error(`backend ${backend.id} has one kind of conversation: there is nothing to migrate`);
  const runId = store.runs.start(opts.dryRun ? 'dry-run' : 'migrate');
  try {
    const reconciler = reconcilerFor(deps, opts.dryRun);
    if (!opts.dryRun) await reconciler.recover();
    await reconciler.whoami();
    await reconciler.preflight();
    if (!opts.dryRun) canonicalIds(deps, logger);
    const snapshot = store.loadSnapshot();
    const ops: PlanOp[] = [];
    const warnings: string[] = [];
    for (const c of snapshot.conversations.filter((x) => x.ownerId === config.ownerId)) {
      const conv = await reconciler.read(c.conversationId);
      if (!conv) {
        warnings.push(`${c.key}: ${c.conversationId} cannot be read any more; not migrated (a sync notices it is gone)`);
        continue;
      }
      if (conv.kind === target) {
        const refill = unfilled(store, c, conv.members);
        if (refill) ops.push(refill);
        continue;
      }
      const byHand = new Set(c.members.others().map(([m]) => m));
      const external = conv.members.filter((m) => byHand.has(m) || !c.members.has(m));
      const reason = `migrate-to-channels: replaces ${conv.id} (${conv.kind ?? 'conversation'})`;
      // a second run after an interrupted one finds the old one renamed already
      // (its name as before that rename: a long one was cut to fit " (moved)")
      const name = c.name.endsWith(MOVED) ? (store.journal.nameBeforeMigrateRename(c.conversationId) ?? c.name.slice(0, -MOVED.length)) : c.name;
      const to = movedName(name, deps.backend.capabilities.maxNameLength);
      if (opts.old === 'rename' && conv.name !== to)
        ops.push({ op: 'rename', key: c.key, name, conversationId: c.conversationId, from: conv.name, to, reason });
      ops.push({
        op: 'create',
        key: c.key,
        name,
        members: conv.members,
        ...(external.length > 0 ? { external } : {}),
        groups: c.groups,
        onGroupRemoved: c.onGroupRemoved,
        reason,
      });
    }
    const moves = ops.filter((o) => o.op === 'create').length;
    const blocked: BlockedOp[] = [];
    if (moves > config.guards.maxUnbindsPerRun && !opts.allowRemovals) {
      const why = `held back by guards: ${moves} conversations to move exceed maxUnbindsPerRun ${config.guards.maxUnbindsPerRun} (run again with --allow-removals)`;
      warnings.push(why);
      for (const op of ops.splice(0)) blocked.push({ kind: 'guard', why, op });
    }
    const plan: Plan = {
      version: 1,
      ownerId: config.ownerId,
      policy: config.policy,
      snapshotDigest: snapshotDigest(snapshot),
      ops,
      blocked,
      warnings,
      summary: summarize(ops, blocked),
    };
    logger.info({ moves, held: blocked.length }, 'migration planned');
    let result: ApplyResult | undefined;
    if (!opts.dryRun) result = await reconciler.apply(plan, runId);
    const exitCode = exitCodeOf(plan, result, [], false);
    store.runs.finish(runId, {
      result: resultLabel(exitCode, result),
      exitCode,
      summary: { plan: plan.summary, result: result && summarizeResult(result) },
      plan,
    });
    return { runId, mode: opts.dryRun ? 'dry-run' : 'migrate', plan, result, readErrors: [], exitCode };
  } catch (e) {
    store.runs.finish(runId, { result: 'error', exitCode: EXIT.error, summary: null, error: describeError(e) });
    throw e;
  }
}

/**
 * A conversation moved by an earlier run whose fill of the channel failed, or was cut short by an
 * interruption: who had been added by hand, could not be brought in and is still missing (never one
 * who left on their own, nor one added or removed since), added now.
 */
function unfilled(store: RunDeps['store'], c: SnapshotConversation, members: string[]): PlanOp | undefined {
  const rows = store.journal.unsureMigrateAdds(c.conversationId);
  // the backend refused them (reported then): not offered again here
  const refused = rows.filter((r) => r.errorKind === 'refused').flatMap((r) => ('members' in r.op ? r.op.members : []));
  // who the store has as a member landed (a fill resolved after an interruption): gone now, they left on their own
  const present = new Set([...members, ...c.members.ids, ...(c.leavers ?? []), ...refused]);
  const wanted = new Set<string>();
  for (const row of rows) {
    if (row.op.op !== 'add') continue;
    const settled = new Set(store.journal.doneMemberChanges(c.conversationId, row.id).flatMap((r) => ('members' in r.op ? r.op.members : [])));
    // only who was there by hand: the group's members are the sync's, which adds those the directory still wants
    for (const m of row.op.external ?? []) if (!present.has(m) && !settled.has(m)) wanted.add(m);
  }
  if (wanted.size === 0) return undefined;
  const missing = [...wanted];
  return {
    op: 'add',
    key: c.key,
    name: c.name,
    conversationId: c.conversationId,
    members: missing,
    external: missing,
    reason: `migrate-to-channels: members added by hand that the move of ${c.key} could not bring in`,
  };
}
