import type { Logger } from 'pino';
import type { Backend, BackendConversation } from '../backends/types.js';
import { AuthError, CapacityError, describeError, isAmbiguous, isSyncError, PermanentError, TransientError, UnmanageableError } from '../errors.js';
import { SplitCallsError } from '../errors.js';
import type { ContactOp, CreateOp, PlanOp } from '../plan/types.js';
import type { OpEffect, Store } from '../store/store.js';
import { applyOp } from './apply-op.js';
import type { BackendCaller } from './caller.js';
import { createdEffect, describeOp, effectOf, identifiedEffect } from './effects.js';
import { findCreated, findUser } from './find-created.js';
import type { FailedOp, RefusedUser } from './reconciler.js';

export type Outcome = 'done' | FailedOp;

/**
 * Runs one op (or one conversation's ops together) against the backend, journal first: pending
 * before the call, done with its snapshot change or failed after. A call that must not be sent
 * twice is looked for after a lost answer; a user the backend refuses is split out of its batch.
 */
export class OpRunner {
  /** users the backend refused in this run */
  readonly refused: RefusedUser[] = [];

  constructor(
    private readonly store: Store,
    private readonly caller: BackendCaller,
    private readonly opts: { ownerId: string; logger: Logger },
  ) {}

  private get backend(): Backend {
    return this.caller.backend;
  }

  private get log(): Logger {
    return this.opts.logger;
  }

  async executeTogether(ops: PlanOp[], runId: number): Promise<Outcome[] | 'one-by-one'> {
    for (const op of ops) {
      const ownership = this.checkOwnership(op);
      if (ownership) return ops.map((o) => ({ op: o, kind: 'permanent', error: ownership }));
    }
    const conversationId = (ops[0] as { conversationId: string }).conversationId;
    const rename = ops.find((o) => o.op === 'rename');
    const change = {
      add: ops.flatMap((o) => (o.op === 'add' ? o.members : [])),
      remove: ops.flatMap((o) => (o.op === 'remove' ? o.members : [])),
      ...(rename ? { name: rename.to } : {}),
    };
    const ids = ops.map((op) => this.store.journal.pending(runId, op));
    const update = this.backend.updateConversation!.bind(this.backend);
    try {
      await this.caller.attempt(() => update(conversationId, change));
      ops.forEach((op, i) => this.store.journal.done(ids[i]!, effectOf(op)));
      return ops.map(() => 'done' as const);
    } catch (e) {
      // op by op: changes the backend cannot make in one call (nothing was sent; each op then goes
      // under the rate limit, retried on its own), or someone it refuses (split until they stand alone)
      const split = e instanceof SplitCallsError;
      // refused for the conversation's sake (Wire: closed to invites): that refuses its adds, not its
      // removals or its rename, which go on their own
      if (split || this.refusesUser(e) || (e instanceof PermanentError && e.ofConversation)) {
        for (const id of ids) {
          if (split) this.store.journal.withdraw(id);
          else this.store.journal.failed(id, { ...classify(e), message: `${describeError(e)}; retried op by op` });
        }
        // the reconciler sends them one by one, each under its circuit, auth and stop checks
        return 'one-by-one';
      }
      if (isAmbiguous(e)) return ops.map((op) => this.leftPending(op, e));
      const failure = classify(e);
      this.noteUnmanageable(ops[0]!, e);
      for (const id of ids) this.store.journal.failed(id, failure);
      this.log.error({ key: ops[0]!.key, kind: failure.kind, label: failure.label, err: failure.message }, `could not update "${ops[0]!.name}"`);
      return ops.map((op) => failedOp(op, failure));
    }
  }

  async execute(op: PlanOp, runId: number): Promise<Outcome> {
    if (op.op === 'create') return this.executeCreate(op, runId);
    if (op.op === 'contact') return this.executeContact(op, runId);
    if (op.op !== 'unbind' && op.op !== 'rebind' && op.conversationId === '') {
      const bound = this.store.bindingOf(op.key);
      if (!bound) return { op, kind: 'permanent', error: 'the conversation was not created' };
      op = { ...op, conversationId: bound.conversationId };
    }
    const ownership = this.checkOwnership(op);
    if (ownership) return { op, kind: 'permanent', error: ownership };
    const journalId = this.store.journal.pending(runId, op);
    try {
      const effect = await applyOp(this.caller, op, this.log);
      this.store.journal.done(journalId, effect);
      return 'done';
    } catch (e) {
      if (op.op === 'add' && this.refusesUser(e)) return this.isolate(journalId, op, e, runId);
      if (isAmbiguous(e)) return this.leftPending(op, e);
      return this.failed(journalId, op, e);
    }
  }

  /** the backend refused someone in this batch: halves are tried until each refused user stands alone */
  private async isolate(journalId: number, op: PlanOp & { op: 'add' }, e: unknown, runId: number): Promise<Outcome> {
    const failure = classify(e);
    if (op.members.length === 1) {
      const refused = { userId: op.members[0]!, key: op.key, ...(failure.label ? { label: failure.label } : {}), message: failure.message };
      this.store.journal.failed(journalId, { ...failure, kind: 'refused' });
      this.store.users.recordRefused([refused]);
      this.refused.push(refused);
      this.log.warn({ key: op.key, user: refused.userId, label: failure.label }, `the backend refused a user of "${op.name}"; the others are added`);
      return failedOp(op, { ...failure, kind: 'refused' });
    }
    this.store.journal.failed(journalId, { ...failure, message: `${failure.message}; the batch is split to find who` });
    const half = Math.ceil(op.members.length / 2);
    const outcomes = [
      await this.execute({ ...op, members: op.members.slice(0, half) }, runId),
      await this.execute({ ...op, members: op.members.slice(half) }, runId),
    ];
    // refused users are reported on their own; anything else is this op's failure
    return outcomes.find((o) => o !== 'done' && o.kind !== 'refused') ?? outcomes.find((o) => o === 'done') ?? outcomes[0]!;
  }

  /** a conversation the backend refuses to change for good is recorded: the plan stops sending it changes */
  private noteUnmanageable(op: PlanOp, e: unknown): void {
    if (!(e instanceof UnmanageableError) || !('conversationId' in op) || op.conversationId === '') return;
    this.store.markUnmanageable(op.conversationId, e.reason);
    this.log.error({ key: op.key, conversation: op.conversationId }, `"${op.name}" cannot be managed any more: ${e.reason}`);
  }

  private refusesUser(e: unknown): boolean {
    const labels = this.backend.capabilities.refusedUserLabels;
    return labels !== undefined && e instanceof PermanentError && !e.ofConversation && e.label !== undefined && labels.includes(e.label);
  }

  private async executeCreate(op: CreateOp, runId: number): Promise<Outcome> {
    const b = this.backend;
    if (this.store.journal.createPending(op.key)) {
      return { op, kind: 'pending', error: 'an earlier create of this conversation lost its answer and is still being looked for; not made twice' };
    }
    // identifiers a retried or recovered create must reuse are journaled before the call
    const prepared = op.prepared ?? b.prepareCreate?.({ name: op.name, members: op.members });
    const create: CreateOp = prepared ? { ...op, prepared } : op;
    let made: BackendConversation | undefined;
    const outcome = await this.sendOnce(create, runId, {
      send: async () => {
        try {
          return await b.create({ name: create.name, members: create.members, ...(prepared ? { prepared } : {}) });
        } catch (e) {
          if (!this.refusesUser(e) || create.members.length === 0 || prepared) throw e;
          // one refused user must not keep the conversation from existing: made empty, then filled in batches
          this.log.warn({ key: op.key, label: (e as PermanentError).label }, `a member of "${op.name}" was refused: made without members, who are added next`);
          return b.create({ name: create.name, members: [] });
        }
      },
      look: (since) => findCreated(this.caller, this.store, create, since),
      effect: (conv) => {
        made = conv;
        return createdEffect(create, conv, this.opts.ownerId, b.id);
      },
    });
    // whoever the create could not bring in (a channel is made empty, a refused member) is added now
    const missing = made ? create.members.filter((m) => !made!.members.includes(m)) : [];
    const bound = outcome === 'done' && missing.length > 0 ? this.store.bindingOf(op.key) : undefined;
    if (!bound) return outcome;
    const byHand = new Set(create.external);
    const external = missing.filter((m) => byHand.has(m));
    return this.execute(
      {
        op: 'add',
        key: op.key,
        name: op.name,
        conversationId: bound.conversationId,
        members: missing,
        ...(external.length > 0 ? { external } : {}),
        reason: op.reason,
      },
      runId,
    );
  }

  private executeContact(op: ContactOp, runId: number): Promise<Outcome> {
    const make = this.backend.createUser?.bind(this.backend);
    return this.sendOnce(op, runId, {
      send: () => {
        if (!make) throw new PermanentError(`${this.backend.id} cannot make users`, { origin: this.backend.id });
        return make({ handle: op.handle, phone: op.phone, ...(op.displayName ? { displayName: op.displayName } : {}) });
      },
      look: () => findUser(this.caller, op),
      effect: (userId) => identifiedEffect(op, userId),
    });
  }

  /**
   * A call that must not be sent twice: journaled durably first. When its answer is lost (or
   * unreadable after a 2xx), what it may have made is looked for once; found, it is adopted. Not
   * found, the op stays pending — unknown — and is not sent again in this run: a slow backend may
   * still make it. The next run looks again, and only once the answer can no longer come
   * (`lostAnswerSettleMs`) is it taken as not made and planned again.
   */
  private async sendOnce<T>(
    op: PlanOp,
    runId: number,
    how: { send: () => Promise<T>; look: (since: string) => Promise<T | undefined>; effect: (made: T) => OpEffect },
  ): Promise<Outcome> {
    const since = new Date().toISOString();
    const journalId = this.store.journal.pending(runId, op, { durable: true });
    let sent: { made: T } | { lost: unknown };
    try {
      sent = { made: await this.caller.attempt(how.send, { resend: false }) };
    } catch (e) {
      if (!isAmbiguous(e) && !madeButUnread(e)) return this.failed(journalId, op, e);
      sent = { lost: e };
    }
    if ('made' in sent) {
      // a store that cannot record it now fails the run and leaves the op pending, so the next run
      // finds and adopts what was made instead of making it again
      this.store.journal.done(journalId, how.effect(sent.made));
      return 'done';
    }
    const { lost } = sent;
    this.log.warn({ op: op.op, key: op.key, err: describeError(lost) }, `the answer was lost: looking for what "${op.name}" may have made`);
    let found: T | undefined;
    try {
      found = await how.look(since);
    } catch (e) {
      if (e instanceof AuthError) return { ...this.unknown(op, lost, e), kind: 'auth' };
      return this.unknown(op, lost, e);
    }
    if (found === undefined) return this.unknown(op, lost);
    this.store.journal.done(journalId, how.effect(found), 'found after its answer was lost');
    return 'done';
  }

  /** the op stays pending in the journal: the next run looks again before planning */
  private unknown(op: PlanOp, lost: unknown, look?: unknown): FailedOp {
    const error = `answer lost (${describeError(lost)})${look ? ` and the look for what it made failed (${describeError(look)})` : ', nothing found yet'}; left pending, looked for again before the next plan`;
    this.log.error({ op: op.op, key: op.key }, `could not ${describeOp(op)}: ${error}`);
    return { op, kind: 'transient', error };
  }

  /**
   * A change whose last answer was lost may have been made: recorded as failed, a refresh would
   * take its members for people added or gone by hand. It stays pending, and what the
   * conversation holds is read back before the next plan, as after a crash.
   */
  private leftPending(op: PlanOp, lost: unknown): FailedOp {
    const error = `answer lost (${describeError(lost)}); left pending, the conversation is read back before the next plan`;
    this.log.error({ op: op.op, key: op.key }, `could not ${describeOp(op)}: ${error}`);
    return { op, kind: 'transient', error };
  }

  private failed(journalId: number, op: PlanOp, e: unknown): FailedOp {
    const failure = classify(e);
    this.noteUnmanageable(op, e);
    this.store.journal.failed(journalId, failure);
    const level = e instanceof CapacityError ? 'warn' : 'error';
    this.log[level]({ op: op.op, key: op.key, kind: failure.kind, label: failure.label, err: failure.message }, `could not ${describeOp(op)}`);
    return failedOp(op, failure);
  }

  /** ownership is checked in the plan and again here, right before the call */
  private checkOwnership(op: PlanOp): string | undefined {
    if (op.op === 'create' || op.op === 'contact') return undefined;
    if (op.op === 'rebind') {
      // bound again only to a conversation convsync made and let go (or that moves to a new key)
      const row = this.store.bindingRow(op.fromKey ?? op.key);
      const ok =
        row &&
        row.ownerId === this.opts.ownerId &&
        row.conversationId === op.conversationId &&
        (row.state === 'unbound' || (op.fromKey !== undefined && row.state === 'bound'));
      return ok ? undefined : `${op.fromKey ?? op.key} is not a conversation of "${this.opts.ownerId}" to bind again`;
    }
    const bound = this.store.bindingOf(op.key);
    if (!bound) return `no binding for ${op.key} any more`;
    if (bound.ownerId !== this.opts.ownerId) return `${op.key} is owned by "${bound.ownerId}", not "${this.opts.ownerId}"`;
    if (bound.conversationId !== op.conversationId) return `${op.key} is now bound to ${bound.conversationId}, not ${op.conversationId}`;
    return undefined;
  }
}
interface Failure {
  kind: string;
  label?: string;
  message: string;
}

/** the one reading of a failure: its kind, the backend's own label, and what to show */
function classify(e: unknown): Failure {
  const kind = e instanceof TransientError ? 'transient' : e instanceof UnmanageableError ? 'unmanageable' : isSyncError(e) ? e.kind : 'permanent';
  const label = isSyncError(e) ? e.label : undefined;
  return { kind, ...(label ? { label } : {}), message: describeError(e) };
}

/** a 2xx whose body could not be read: the change was made, what it made is unknown */
function madeButUnread(e: unknown): boolean {
  return isSyncError(e) && e.status !== undefined && e.status >= 200 && e.status < 300;
}

function failedOp(op: PlanOp, f: Failure): FailedOp {
  return { op, kind: f.kind, error: f.message, ...(f.label ? { label: f.label } : {}) };
}
