import type { Logger } from 'pino';
import type { BackendConversation } from '../backends/types.js';
import { AuthError, describeError, isAmbiguous, TransientError } from '../errors.js';
import type { PlanOp } from '../plan/types.js';
import type { JournalRow, OpEffect, Store } from '../store/store.js';
import type { BackendCaller } from './caller.js';
import { createdEffect } from './effects.js';
import { findCreated, findUser } from './find-created.js';

const NOT_MADE = { kind: 'interrupted', message: 'not made before the interruption; planned again' };

/**
 * Resolves ops left pending by an interrupted run, or by a lost answer that could not be checked
 * at the time, against the backend — before anything is planned: a conversation that was made but
 * not recorded is adopted (never made twice); members and names are re-read.
 */
export async function recoverPending(
  caller: BackendCaller,
  store: Store,
  opts: { ownerId: string; logger: Logger },
): Promise<{ resolved: number; adopted: number }> {
  const pending = store.pendingJournal();
  if (pending.length === 0) return { resolved: 0, adopted: 0 };
  opts.logger.warn({ pending: pending.length }, 'resolving ops left pending by an interrupted run or a lost answer');
  let adopted = 0;
  const listed: { conversations?: BackendConversation[] } = {};
  for (const row of pending) {
    try {
      const outcome = await resolve(caller, store, row, opts.ownerId, listed);
      if (outcome === 'adopted') adopted++;
    } catch (e) {
      if (e instanceof AuthError) throw e;
      opts.logger.warn({ journal: row.id, err: describeError(e) }, 'could not resolve a pending op yet; will try again next run');
    }
  }
  const unresolved = store.pendingJournal().filter((r) => r.op.op === 'create' || r.op.op === 'contact').length;
  if (unresolved > 0) {
    // planning now could make those a second time
    throw new TransientError(`${unresolved} interrupted create(s) could not be checked against the backend; nothing else is done until they are`, {
      origin: caller.backend.id,
    });
  }
  return { resolved: pending.length, adopted };
}

async function resolve(
  caller: BackendCaller,
  store: Store,
  row: JournalRow,
  ownerId: string,
  listed: { conversations?: BackendConversation[] },
): Promise<'adopted' | 'resolved'> {
  const op: PlanOp = row.op;
  const b = caller.backend;
  const note = 'resolved after interruption';
  switch (op.op) {
    case 'contact': {
      const id = await findUser(caller, op);
      if (id === undefined) store.journalFailed(row.id, NOT_MADE);
      else store.journalDone(row.id, { kind: 'identified', lookup: `handle:${op.handle.trim().toLowerCase()}`, userId: id }, 'adopted after interruption');
      return id === undefined ? 'resolved' : 'adopted';
    }
    case 'create': {
      let found = await findCreated(caller, store, op, row.startedAt, listed);
      const prepared = op.prepared;
      if (!found && prepared?.conversationId) {
        // not made: made now with the journaled identifiers, so a late first POST cannot make a second
        found = await caller.attempt(() => b.create({ name: op.name, members: op.members, prepared }), { resend: false }).catch(async (e: unknown) => {
          if (isAmbiguous(e)) return caller.attempt(() => b.get(prepared.conversationId!));
          throw e;
        });
      }
      if (!found) {
        store.journalFailed(row.id, NOT_MADE);
        return 'resolved';
      }
      store.journalDone(row.id, createdEffect(op, found, ownerId, b.id), 'adopted after interruption');
      return 'adopted';
    }
    case 'unbind':
      store.journalDone(row.id, { kind: 'unbound', key: op.key }, note);
      return 'resolved';
    default:
  }
  const conv = await caller.attempt(() => b.get(op.conversationId));
  if (!conv) {
    if (op.op === 'delete' || op.op === 'archive' || op.op === 'rebind') store.journalDone(row.id, { kind: 'deleted', key: op.key }, note);
    else store.journalFailed(row.id, { kind: 'interrupted', message: 'conversation no longer reachable' });
    return 'resolved';
  }
  const present = new Set(conv.members);
  const effect: OpEffect =
    op.op === 'add'
      ? { kind: 'added', conversationId: op.conversationId, members: op.members.filter((m) => present.has(m)) }
      : op.op === 'remove'
        ? { kind: 'removed', conversationId: op.conversationId, members: op.members.filter((m) => !present.has(m)) }
        : op.op === 'rename'
          ? { kind: 'renamed', conversationId: op.conversationId, name: conv.name }
          : op.op === 'rebind'
            ? { kind: 'rebound', key: op.key, conversationId: op.conversationId, members: conv.members }
            : { kind: 'none' };
  store.journalDone(row.id, effect, note);
  return 'resolved';
}
