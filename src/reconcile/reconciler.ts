import type { Logger } from 'pino';
import type { Backend } from '../backends/types.js';
import { AuthError, CapacityError, describeError, isAmbiguous, isSyncError, PermanentError, TransientError } from '../errors.js';
import type { ContactOp, CreateOp, Plan, PlanOp, Snapshot } from '../plan/types.js';
import type { Drift, OpEffect, Store } from '../store/store.js';
import { runPool } from '../pool.js';
import type { RetryPolicy } from '../http/retry.js';
import { BackendCaller } from './caller.js';
import { createdEffect, describeOp, effectOf } from './effects.js';
import { findCreated, findUser } from './find-created.js';
import { Progress } from './progress.js';
import { recoverPending } from './recover.js';
import { refreshConversations } from './refresh.js';

export { describeOp } from './effects.js';

export interface ReconcilerOptions {
  dryRun: boolean;
  ownerId: string;
  concurrency: number;
  ratePerSecond: number;
  burst: number;
  retry: RetryPolicy;
  /** ops in a row that still failed transiently after their retries before the circuit opens */
  circuitThreshold?: number;
  logger: Logger;
  /** a terminal to draw progress on */
  tty?: NodeJS.WriteStream;
  signal?: AbortSignal;
}

export interface FailedOp {
  op: PlanOp;
  kind: string;
  error: string;
  label?: string;
}

export interface ApplyResult {
  dryRun: boolean;
  /** backend calls that succeeded (one plan op may take several calls) */
  done: number;
  doneByOp: Partial<Record<PlanOp['op'], number>>;
  failed: FailedOp[];
  /** ops not attempted because the circuit opened or the run was stopped */
  skipped: number;
  circuitOpen: boolean;
  /** credentials refused: the run stopped */
  authFailed?: string;
  /** users the backend refused (each isolated from its batch; the others were applied) */
  refused?: RefusedUser[];
}

export interface RefusedUser {
  userId: string;
  key: string;
  label?: string;
  message: string;
}

type Outcome = 'done' | FailedOp;

/**
 * Executes a plan against a backend, journal first: each backend call is written `pending`
 * before it is made and `done` (with its snapshot change, in one transaction) or `failed` after.
 * A call that must not be repeated (a create) whose answer is lost stays pending until what it
 * may have made has been looked for. Dry-run is decided here and only here (`BackendCaller`).
 */
export class Reconciler {
  private readonly caller: BackendCaller;
  private readonly log: Logger;
  private readonly refused: RefusedUser[] = [];

  constructor(
    private readonly store: Store,
    backend: Backend,
    private readonly opts: ReconcilerOptions,
  ) {
    this.caller = new BackendCaller(backend, opts);
    this.log = opts.logger;
  }

  private get backend(): Backend {
    return this.caller.backend;
  }

  async apply(plan: Plan, runId: number): Promise<ApplyResult> {
    const result: ApplyResult = { dryRun: this.opts.dryRun, done: 0, doneByOp: {}, failed: [], skipped: 0, circuitOpen: false };
    if (this.opts.dryRun) {
      for (const op of plan.ops) this.log.info({ op: op.op, key: op.key }, `DRY-RUN: would ${describeOp(op)}`);
      return result;
    }
    const calls = plan.ops.flatMap((op) => this.split(op));
    const byKey = new Map<string, PlanOp[]>();
    for (const call of calls) {
      const list = byKey.get(call.key) ?? [];
      list.push(call);
      byKey.set(call.key, list);
    }
    const progress = new Progress(calls.length, this.log, this.opts.tty);
    const threshold = this.opts.circuitThreshold ?? 5;
    let transientInARow = 0;
    const stopped = () => result.circuitOpen || result.authFailed !== undefined || this.opts.signal?.aborted === true;

    await runPool([...byKey.values()], this.opts.concurrency, async (ops) => {
      // a conversation's ops run in order: create before add, remove before add (room for the new)
      for (const batch of this.combine(ops)) {
        if (stopped()) {
          result.skipped += batch.length;
          continue;
        }
        const outcomes = batch.length === 1 ? [await this.execute(batch[0]!, runId)] : await this.executeTogether(batch, runId);
        progress.tick();
        outcomes.forEach((outcome, i) => {
          const op = batch[i]!;
          if (outcome === 'done') {
            result.done++;
            result.doneByOp[op.op] = (result.doneByOp[op.op] ?? 0) + 1;
            transientInARow = 0;
            return;
          }
          result.failed.push(outcome);
          if (outcome.kind === 'auth') result.authFailed = outcome.error;
          if (outcome.kind === 'transient' && i === 0 && ++transientInARow >= threshold) {
            result.circuitOpen = true;
            this.log.error({ failures: transientInARow }, 'circuit open: the backend keeps failing; the remaining ops wait for the next run');
          }
        });
      }
    });
    progress.finish();
    if (this.refused.length > 0) result.refused = [...this.refused];
    return result;
  }

  /** the daemon's own backend identity, with the same retries as every other call */
  whoami() {
    return this.caller.whoami();
  }

  /** which ids the backend knows, each call retried like any other */
  knownUsers(ids: string[]): Promise<Set<string>> {
    const known = this.backend.knownUsers?.bind(this.backend);
    if (!known) return Promise.resolve(new Set(ids));
    return this.caller.attempt(() => known(ids));
  }

  /** handle lookups (reads), batched by the backend, each batch retried like any call */
  async lookupHandles(handles: string[]): Promise<Map<string, string | null>> {
    const lookup = this.backend.lookupHandles?.bind(this.backend);
    if (!lookup) throw new PermanentError(`${this.backend.id} cannot look users up by handle`, { origin: this.backend.id });
    const out = new Map<string, string | null>();
    for (let i = 0; i < handles.length; i += 100) {
      for (const [k, v] of await this.caller.attempt(() => lookup(handles.slice(i, i + 100)))) out.set(k, v);
    }
    return out;
  }

  refresh(snapshot: Snapshot): Promise<{ drift: Drift[]; unreadable: number }> {
    return refreshConversations(this.caller, snapshot, { ownerId: this.opts.ownerId, concurrency: this.opts.concurrency, logger: this.log });
  }

  recover(): Promise<{ resolved: number; adopted: number }> {
    return recoverPending(this.caller, this.store, { ownerId: this.opts.ownerId, logger: this.log });
  }

  /**
   * A backend that sets a conversation as a whole (`updateConversation`) gets one call for the
   * rename, removes and adds of a conversation; any other backend one call per op.
   */
  private combine(ops: PlanOp[]): PlanOp[][] {
    if (!this.backend.updateConversation) return ops.map((op) => [op]);
    const out: PlanOp[][] = [];
    const joinable = (o: PlanOp) => o.op === 'rename' || o.op === 'add' || o.op === 'remove';
    for (const op of ops) {
      const last = out.at(-1);
      const first = last?.[0];
      if (last && first && joinable(op) && joinable(first) && 'conversationId' in op && 'conversationId' in first && op.conversationId === first.conversationId) {
        last.push(op);
      } else out.push([op]);
    }
    return out;
  }

  private async executeTogether(ops: PlanOp[], runId: number): Promise<Outcome[]> {
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
    const ids = ops.map((op) => this.store.journalPending(runId, op));
    const update = this.backend.updateConversation!.bind(this.backend);
    try {
      await this.caller.attempt(() => update(conversationId, change));
      ops.forEach((op, i) => this.store.journalDone(ids[i]!, effectOf(op)));
      return ops.map(() => 'done' as const);
    } catch (e) {
      const failure = classify(e);
      for (const id of ids) this.store.journalFailed(id, failure);
      this.log.error({ key: ops[0]!.key, kind: failure.kind, label: failure.label, err: failure.message }, `could not update "${ops[0]!.name}"`);
      return ops.map((op) => failedOp(op, failure));
    }
  }

  /** one plan op → the backend calls it needs, each journaled on its own */
  private split(op: PlanOp): PlanOp[] {
    const caps = this.backend.capabilities;
    const chunk = (members: string[], size: number) => {
      const out: string[][] = [];
      for (let i = 0; i < members.length; i += size) out.push(members.slice(i, i + size));
      return out;
    };
    if (op.op === 'add') return chunk(op.members, caps.addBatch).map((members) => ({ ...op, members }));
    if (op.op === 'remove') return chunk(op.members, caps.removeBatch).map((members) => ({ ...op, members }));
    if (op.op === 'create' && op.members.length > caps.addBatch) {
      const [first = [], ...rest] = chunk(op.members, caps.addBatch);
      // the conversation id is known only after the create: the adds find it in the store
      return [{ ...op, members: first }, ...rest.map((members) => ({ op: 'add' as const, key: op.key, name: op.name, conversationId: '', members, reason: op.reason }))];
    }
    return [op];
  }

  private async execute(op: PlanOp, runId: number): Promise<Outcome> {
    if (op.op === 'create') return this.executeCreate(op, runId);
    if (op.op === 'contact') return this.executeContact(op, runId);
    if (op.op !== 'unbind' && op.op !== 'rebind' && op.conversationId === '') {
      const bound = this.store.bindingOf(op.key);
      if (!bound) return { op, kind: 'permanent', error: 'the conversation was not created' };
      op = { ...op, conversationId: bound.conversationId };
    }
    const ownership = this.checkOwnership(op);
    if (ownership) return { op, kind: 'permanent', error: ownership };
    const journalId = this.store.journalPending(runId, op);
    try {
      const effect = await this.call(op);
      this.store.journalDone(journalId, effect);
      return 'done';
    } catch (e) {
      if (op.op === 'add' && this.refusesUser(e)) return this.isolate(journalId, op, e, runId);
      return this.failed(journalId, op, e);
    }
  }

  /** the backend refused someone in this batch: halves are tried until each refused user stands alone */
  private async isolate(journalId: number, op: PlanOp & { op: 'add' }, e: unknown, runId: number): Promise<Outcome> {
    const failure = classify(e);
    if (op.members.length === 1) {
      const refused = { userId: op.members[0]!, key: op.key, ...(failure.label ? { label: failure.label } : {}), message: failure.message };
      this.store.journalFailed(journalId, { ...failure, kind: 'refused' });
      this.store.recordRefused([refused]);
      this.refused.push(refused);
      this.log.warn({ key: op.key, user: refused.userId, label: failure.label }, `the backend refused a user of "${op.name}"; the others are added`);
      return failedOp(op, { ...failure, kind: 'refused' });
    }
    this.store.journalFailed(journalId, { ...failure, message: `${failure.message}; the batch is split to find who` });
    const half = Math.ceil(op.members.length / 2);
    const outcomes = [
      await this.execute({ ...op, members: op.members.slice(0, half) }, runId),
      await this.execute({ ...op, members: op.members.slice(half) }, runId),
    ];
    // refused users are reported on their own; anything else is this op's failure
    return outcomes.find((o) => o !== 'done' && o.kind !== 'refused') ?? outcomes.find((o) => o === 'done') ?? outcomes[0]!;
  }

  private refusesUser(e: unknown): boolean {
    const labels = this.backend.capabilities.refusedUserLabels;
    return labels !== undefined && e instanceof PermanentError && e.label !== undefined && labels.includes(e.label);
  }

  private async executeCreate(op: CreateOp, runId: number): Promise<Outcome> {
    const b = this.backend;
    // identifiers a retried or recovered create must reuse are journaled before the call
    const prepared = op.prepared ?? b.prepareCreate?.({ name: op.name, members: op.members });
    const create: CreateOp = prepared ? { ...op, prepared } : op;
    let refusedSomeone = false;
    const outcome = await this.sendOnce(create, runId, {
      send: async () => {
        try {
          return await b.create({ name: create.name, members: create.members, ...(prepared ? { prepared } : {}) });
        } catch (e) {
          if (!this.refusesUser(e) || create.members.length === 0 || prepared) throw e;
          // one refused user must not keep the conversation from existing: made empty, then filled in batches
          refusedSomeone = true;
          this.log.warn({ key: op.key, label: (e as PermanentError).label }, `a member of "${op.name}" was refused: made without members, who are added next`);
          return b.create({ name: create.name, members: [] });
        }
      },
      look: (since) => findCreated(this.caller, this.store, create, since),
      effect: (conv) => createdEffect(create, conv, this.opts.ownerId, b.id),
    });
    const bound = refusedSomeone && outcome === 'done' ? this.store.bindingOf(op.key) : undefined;
    if (!bound) return outcome;
    return this.execute({ op: 'add', key: op.key, name: op.name, conversationId: bound.conversationId, members: create.members, reason: op.reason }, runId);
  }

  private executeContact(op: ContactOp, runId: number): Promise<Outcome> {
    const make = this.backend.createUser?.bind(this.backend);
    const lookup = `handle:${op.handle.trim().toLowerCase()}`;
    return this.sendOnce(op, runId, {
      send: () => {
        if (!make) throw new PermanentError(`${this.backend.id} cannot make users`, { origin: this.backend.id });
        return make({ handle: op.handle, phone: op.phone, ...(op.displayName ? { displayName: op.displayName } : {}) });
      },
      look: () => findUser(this.caller, op),
      effect: (userId) => ({ kind: 'identified', lookup, userId }),
    });
  }

  /**
   * A call that must not be sent twice: journaled durably first; when its answer is lost, what
   * it may have made is looked for before any new attempt. If the look itself fails, the op stays
   * pending — unknown, resolved like a crash at the next run — never failed.
   */
  private async sendOnce<T>(
    op: PlanOp,
    runId: number,
    how: { send: () => Promise<T>; look: (since: string) => Promise<T | undefined>; effect: (made: T) => OpEffect },
  ): Promise<Outcome> {
    const since = new Date().toISOString();
    const journalId = this.store.journalPending(runId, op, { durable: true });
    for (let attempt = 1; ; attempt++) {
      let lost: unknown;
      try {
        const made = await this.caller.attempt(how.send, { resend: false });
        this.store.journalDone(journalId, how.effect(made));
        return 'done';
      } catch (e) {
        if (!isAmbiguous(e)) return this.failed(journalId, op, e);
        lost = e;
      }
      this.log.warn({ op: op.op, key: op.key, err: describeError(lost) }, `the answer was lost: looking for what "${op.name}" may have made before trying again`);
      let found: T | undefined;
      try {
        found = await how.look(since);
      } catch (e) {
        if (e instanceof AuthError) return this.failed(journalId, op, e);
        return this.unknown(op, lost, e);
      }
      if (found !== undefined) {
        this.store.journalDone(journalId, how.effect(found), 'found after its answer was lost');
        return 'done';
      }
      if (attempt >= this.caller.retry.maxAttempts) return this.unknown(op, lost);
    }
  }

  /** the op stays pending in the journal: the next run looks again before planning */
  private unknown(op: PlanOp, lost: unknown, look?: unknown): FailedOp {
    const error = `answer lost (${describeError(lost)})${look ? ` and the look for what it made failed (${describeError(look)})` : ''}; left pending, checked again before the next plan`;
    this.log.error({ op: op.op, key: op.key }, `could not ${describeOp(op)}: ${error}`);
    return { op, kind: 'transient', error };
  }

  private failed(journalId: number, op: PlanOp, e: unknown): FailedOp {
    const failure = classify(e);
    this.store.journalFailed(journalId, failure);
    const level = e instanceof CapacityError ? 'warn' : 'error';
    this.log[level]({ op: op.op, key: op.key, kind: failure.kind, label: failure.label, err: failure.message }, `could not ${describeOp(op)}`);
    return failedOp(op, failure);
  }

  /** ownership is checked in the plan and again here, right before the call */
  private checkOwnership(op: PlanOp): string | undefined {
    if (op.op === 'create' || op.op === 'contact' || op.op === 'rebind') return undefined;
    const bound = this.store.bindingOf(op.key);
    if (!bound) return `no binding for ${op.key} any more`;
    if (bound.ownerId !== this.opts.ownerId) return `${op.key} is owned by "${bound.ownerId}", not "${this.opts.ownerId}"`;
    if (bound.conversationId !== op.conversationId) return `${op.key} is now bound to ${bound.conversationId}, not ${op.conversationId}`;
    return undefined;
  }

  private async call(op: Exclude<PlanOp, CreateOp | ContactOp>): Promise<OpEffect> {
    const b = this.backend;
    const attempt = <T>(fn: () => Promise<T>) => this.caller.attempt(fn);
    switch (op.op) {
      case 'rebind': {
        const conv = await attempt(() => b.get(op.conversationId));
        if (!conv) {
          this.log.warn({ key: op.key, conversation: op.conversationId }, 'the conversation to bind again is gone; a new one is made at the next run');
          return { kind: 'deleted', key: op.key };
        }
        return { kind: 'rebound', key: op.key, conversationId: op.conversationId, members: conv.members };
      }
      case 'add':
        await attempt(() => b.addMembers(op.conversationId, op.members));
        // already-present members are now members too: recording them stops endless re-adds
        return effectOf(op);
      case 'remove':
        await attempt(() => b.removeMembers(op.conversationId, op.members));
        return effectOf(op);
      case 'rename':
        await attempt(() => b.rename(op.conversationId, op.to));
        return effectOf(op);
      case 'unbind':
        return { kind: 'unbound', key: op.key };
      case 'delete': {
        const del = b.delete?.bind(b);
        if (!del) throw new PermanentError(`${b.id} cannot delete conversations`, { origin: b.id });
        await attempt(() => del(op.conversationId));
        return { kind: 'deleted', key: op.key };
      }
      case 'archive': {
        const archive = b.archive?.bind(b);
        if (!archive) throw new PermanentError(`${b.id} cannot archive conversations`, { origin: b.id });
        await attempt(() => archive(op.conversationId));
        // archived is read-only: a group that comes back gets a new conversation
        return { kind: 'deleted', key: op.key };
      }
    }
  }
}

interface Failure {
  kind: string;
  label?: string;
  message: string;
}

/** the one reading of a failure: its kind, the backend's own label, and what to show */
function classify(e: unknown): Failure {
  const kind = e instanceof TransientError ? 'transient' : isSyncError(e) ? e.kind : 'permanent';
  const label = isSyncError(e) ? e.label : undefined;
  return { kind, ...(label ? { label } : {}), message: describeError(e) };
}

function failedOp(op: PlanOp, f: Failure): FailedOp {
  return { op, kind: f.kind, error: f.message, ...(f.label ? { label: f.label } : {}) };
}
