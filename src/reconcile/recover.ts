import type { Logger } from 'pino';
import type { BackendConversation } from '../backends/types.js';
import { AuthError, describeError, isAmbiguous } from '../errors.js';
import type { ContactOp, CreateOp, PlanOp } from '../plan/types.js';
import { RESOLVED_AFTER_INTERRUPTION } from '../store/journal.js';
import type { JournalRow, OpEffect, Store } from '../store/store.js';
import type { BackendCaller } from './caller.js';
import { createdEffect, effectOf, identifiedEffect } from './effects.js';
import { findCreated, findUser } from './find-created.js';
import { OpRunner } from './op-runner.js';

const NOT_MADE = { kind: 'interrupted', message: 'not made before the interruption (looked for once its answer could no longer come); planned again' };

export interface Recovered {
  resolved: number;
  adopted: number;
  /** creates still unknown (looked for too early, or the look failed): their conversations are not planned */
  inFlight: number;
}

/**
 * Resolves ops left pending by an interrupted run, or by a lost answer, against the backend before
 * anything is planned: what a create made is adopted (never made twice); members and names are
 * re-read. A create not found is taken as not made only once its answer can no longer arrive
 * (`settleMs` after it was sent); until then, and while the look fails, it stays pending and its
 * conversation is left out of the plan.
 */
export async function recoverPending(caller: BackendCaller, store: Store, opts: { ownerId: string; logger: Logger; settleMs: number }): Promise<Recovered> {
  const pending = store.journal.pendingRows();
  const out: Recovered = { resolved: 0, adopted: 0, inFlight: 0 };
  if (pending.length === 0) return out;
  opts.logger.warn({ pending: pending.length }, 'resolving ops left pending by an interrupted run or a lost answer');
  const listed: { conversations?: BackendConversation[] } = {};
  for (const row of pending) {
    try {
      const outcome = await resolve(caller, store, row, opts, listed);
      if (outcome === 'in-flight') out.inFlight++;
      else {
        out.resolved++;
        if (outcome === 'adopted') out.adopted++;
      }
    } catch (e) {
      if (e instanceof AuthError) throw e;
      if (row.op.op === 'create' || row.op.op === 'contact') out.inFlight++;
      opts.logger.warn({ journal: row.id, key: row.op.key, err: describeError(e) }, 'could not resolve a pending op yet; looked for again next run');
    }
  }
  return out;
}

type Resolution = 'adopted' | 'resolved' | 'in-flight';

async function resolve(
  caller: BackendCaller,
  store: Store,
  row: JournalRow,
  opts: { ownerId: string; settleMs: number; logger: Logger },
  listed: { conversations?: BackendConversation[] },
): Promise<Resolution> {
  const op: PlanOp = row.op;
  const settled = Date.now() - Date.parse(row.startedAt) >= opts.settleMs;
  if (op.op === 'contact') return resolveContact(caller, store, row, op, settled);
  if (op.op === 'create') return resolveCreate(caller, store, row, op, { ...opts, settled, listed });
  const note = RESOLVED_AFTER_INTERRUPTION;
  if (op.op === 'unbind') {
    store.journal.done(row.id, { kind: 'unbound', key: op.key }, note);
    return 'resolved';
  }
  const conv = await caller.attempt(() => caller.backend.get(op.conversationId));
  if (!conv) {
    if (op.op === 'delete' || op.op === 'archive' || op.op === 'rebind')
      store.journal.done(row.id, { kind: 'deleted', key: op.op === 'rebind' ? (op.fromKey ?? op.key) : op.key }, note);
    else store.journal.failed(row.id, { kind: 'interrupted', message: 'conversation no longer reachable' });
    return 'resolved';
  }
  const present = new Set(conv.members);
  const effect: OpEffect =
    op.op === 'add'
      ? // those it brought in as added by hand elsewhere (a migration's) stay so
        effectOf({ ...op, members: op.members.filter((m) => present.has(m)) })
      : op.op === 'remove'
        ? { kind: 'removed', conversationId: op.conversationId, members: op.members.filter((m) => !present.has(m)) }
        : op.op === 'rename'
          ? { kind: 'renamed', conversationId: op.conversationId, name: conv.name }
          : op.op === 'rebind'
            ? { kind: 'rebound', key: op.key, fromKey: op.fromKey, conversationId: op.conversationId, members: conv.members }
            : { kind: 'none' };
  store.journal.done(row.id, effect, note);
  return 'resolved';
}

async function resolveContact(caller: BackendCaller, store: Store, row: JournalRow, op: ContactOp, settled: boolean): Promise<Resolution> {
  const id = await findUser(caller, op);
  if (id !== undefined) {
    store.journal.done(row.id, identifiedEffect(op, id), 'adopted after interruption');
    return 'adopted';
  }
  if (!settled) return 'in-flight';
  store.journal.failed(row.id, NOT_MADE);
  return 'resolved';
}

async function resolveCreate(
  caller: BackendCaller,
  store: Store,
  row: JournalRow,
  op: CreateOp,
  ctx: { ownerId: string; settled: boolean; listed: { conversations?: BackendConversation[] }; logger: Logger },
): Promise<Resolution> {
  const b = caller.backend;
  let found = await findCreated(caller, store, op, row.startedAt, ctx.listed);
  if (!found && !ctx.settled) return 'in-flight';
  const id = op.prepared?.conversationId;
  if (!found && id) {
    // not made: sent again with the journaled identifiers, so a late first POST cannot make a second
    const prepared = op.prepared!;
    found = await caller
      .attempt(() => b.create({ name: op.name, members: op.members, prepared }), { resend: false })
      .catch(async (e: unknown) => {
        if (isAmbiguous(e)) return caller.attempt(() => b.get(id));
        throw e;
      });
    if (!found) return 'in-flight';
  }
  if (!found) {
    store.journal.failed(row.id, NOT_MADE);
    return 'resolved';
  }
  store.journal.done(row.id, createdEffect(op, found, ctx.ownerId, b.id), 'adopted after interruption');
  // the create is resolved whatever becomes of this add: a failed one is in the journal, and read back next run
  await bringInByHand(caller, store, row, op, found, ctx).catch((e: unknown) => {
    if (e instanceof AuthError) throw e;
    ctx.logger.warn({ key: op.key, err: describeError(e) }, 'could not add those added by hand to the conversation adopted');
  });
  return 'adopted';
}

/**
 * The people a create brought along as added by hand (a migration's, from the old conversation),
 * whom no plan adds: what `executeCreate` adds after a create, added now to the adopted one
 */
async function bringInByHand(
  caller: BackendCaller,
  store: Store,
  row: JournalRow,
  op: CreateOp,
  found: BackendConversation,
  ctx: { ownerId: string; logger: Logger },
): Promise<void> {
  const there = new Set(found.members);
  const missing = (op.external ?? []).filter((m) => !there.has(m));
  if (missing.length === 0) return;
  const add = { op: 'add' as const, key: op.key, name: op.name, conversationId: found.id, members: missing, external: missing, reason: op.reason };
  // journaled, and anyone the backend refuses set apart from the others, as after any create
  await new OpRunner(store, caller, ctx).execute(add, row.runId);
}
