import type { Logger } from 'pino';
import type { Backend, BackendConversation } from '../backends/types.js';
import { AuthError, CapacityError, describeError, isSyncError, PermanentError, TransientError } from '../errors.js';
import type { Plan, PlanOp, Snapshot } from '../plan/types.js';
import type { Drift, OpEffect, Store } from '../store/store.js';
import { runPool } from '../pool.js';
import { Progress } from './progress.js';
import { TokenBucket } from './rate-limit.js';
import { withRetry, type RetryPolicy } from '../http/retry.js';

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
}

const MUTATORS = new Set(['create', 'addMembers', 'removeMembers', 'rename', 'delete', 'archive', 'updateConversation']);
// prepareCreate only derives identifiers; knownUsers and the reads stay reachable in dry-run

/**
 * Executes a plan against a backend, journal first: each backend call is written `pending`
 * before it is made and `done` (with its snapshot change, in one transaction) or `failed` after.
 * Dry-run is decided here and only here: the backend is wrapped so no mutating method is reachable.
 */
export class Reconciler {
  private readonly backend: Backend;
  private readonly bucket: TokenBucket;
  private readonly log: Logger;

  constructor(
    private readonly store: Store,
    backend: Backend,
    private readonly opts: ReconcilerOptions,
  ) {
    this.backend = opts.dryRun ? readOnly(backend) : backend;
    this.bucket = new TokenBucket(opts.ratePerSecond, opts.burst);
    this.log = opts.logger;
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

    await runPool(
      [...byKey.values()],
      this.opts.concurrency,
      async (ops) => {
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
      },
    );
    progress.finish();
    return result;
  }

  /** the daemon's own backend identity, with the same retries as every other call */
  whoami() {
    return this.attempt(() => this.backend.whoami());
  }

  /** which ids the backend knows, each call retried like any other */
  knownUsers(ids: string[]): Promise<Set<string>> {
    const known = this.backend.knownUsers?.bind(this.backend);
    if (!known) return Promise.resolve(new Set(ids));
    return this.attempt(() => known(ids));
  }

  /** handle lookups, batched by the backend, each batch retried like any call */
  async lookupHandles(handles: string[], details?: ReadonlyMap<string, { phone?: string; displayName?: string }>): Promise<Map<string, string | null>> {
    const lookup = this.backend.lookupHandles?.bind(this.backend);
    if (!lookup) throw new PermanentError(`${this.backend.id} cannot look users up by handle`, { origin: this.backend.id });
    const out = new Map<string, string | null>();
    for (let i = 0; i < handles.length; i += 100) {
      for (const [k, v] of await this.attempt(() => lookup(handles.slice(i, i + 100), undefined, details))) out.set(k, v);
    }
    return out;
  }

  /**
   * Drift: every owned conversation re-read from the backend and compared with the snapshot. A
   * conversation that cannot be read now (transient) is skipped; one that is gone for convsync (404,
   * or 403 because it was removed from it) is reported as deleted.
   */
  async refresh(snapshot: Snapshot): Promise<{ drift: Drift[]; unreadable: number }> {
    const drift: Drift[] = [];
    let unreadable = 0;
    const owned = snapshot.conversations.filter((c) => c.ownerId === this.opts.ownerId);
    await runPool(owned, this.opts.concurrency, async (c) => {
      let conv: BackendConversation | undefined;
      try {
        conv = await this.attempt(() => this.backend.get(c.conversationId));
      } catch (e) {
        if (e instanceof AuthError) throw e;
        if (!(e instanceof PermanentError && e.status === 403)) {
          unreadable++;
          this.log.warn({ key: c.key, err: describeError(e) }, 'refresh: conversation unreadable, skipped');
          return;
        }
        drift.push({ key: c.key, conversationId: c.conversationId, added: [], left: [], deleted: `convsync can no longer read it (${describeError(e)})` });
        return;
      }
      if (!conv) {
        drift.push({ key: c.key, conversationId: c.conversationId, added: [], left: [], deleted: 'deleted on the backend' });
        return;
      }
      const now = new Set(conv.members);
      const added = conv.members.filter((m) => !c.members.has(m)).sort();
      const left = c.members.ids.filter((m) => !now.has(m));
      const renamed = conv.name !== c.name ? { renamedTo: conv.name } : {};
      if (added.length > 0 || left.length > 0 || 'renamedTo' in renamed) drift.push({ key: c.key, conversationId: c.conversationId, added, left, ...renamed });
    });
    drift.sort((a, b) => (a.key < b.key ? -1 : 1));
    return { drift, unreadable };
  }

  /**
   * Resolves ops left pending by an interrupted run against the backend: a conversation that was
   * created but not recorded is adopted (never created twice); members and names are re-read.
   */
  async recover(): Promise<{ resolved: number; adopted: number }> {
    const pending = this.store.pendingJournal();
    if (pending.length === 0) return { resolved: 0, adopted: 0 };
    this.log.warn({ pending: pending.length }, 'resolving ops left pending by an interrupted run');
    let adopted = 0;
    let listed: BackendConversation[] | undefined;
    for (const row of pending) {
      const op = row.op;
      try {
        if (op.op === 'create' && op.prepared?.conversationId) {
          // its identifiers were journaled: read it back, and if it was not made, make it with the same ones
          const prepared = op.prepared;
          const conv =
            (await this.attempt(() => this.backend.get(prepared.conversationId!))) ??
            (await this.attempt(() => this.backend.create({ name: op.name, members: op.members, prepared })));
          this.store.journalDone(row.id, createdEffect(op, conv, this.opts.ownerId, this.backend.id, new Set(op.members)), 'adopted after interruption');
          adopted++;
          continue;
        }
        if (op.op === 'create') {
          const list = this.backend.list?.bind(this.backend);
          listed ??= list ? await this.attempt(() => list()) : [];
          const found = listed
            .filter((c) => c.name === op.name && this.store.bindingByConversation(c.id) === undefined)
            .sort((a, b) => (a.id < b.id ? -1 : 1))[0];
          if (found) {
            const wanted = new Set(op.members);
            this.store.journalDone(row.id, createdEffect(op, found, this.opts.ownerId, this.backend.id, wanted), 'adopted after interruption');
            adopted++;
          } else {
            this.store.journalFailed(row.id, { kind: 'interrupted', message: 'not created before the interruption; planned again' });
          }
          continue;
        }
        if (op.op === 'unbind') {
          this.store.journalDone(row.id, { kind: 'unbound', key: op.key }, 'resolved after interruption');
          continue;
        }
        const conv = await this.attempt(() => this.backend.get(op.conversationId));
        if (!conv) {
          if (op.op === 'delete') this.store.journalDone(row.id, { kind: 'deleted', key: op.key }, 'resolved after interruption');
          else this.store.journalFailed(row.id, { kind: 'interrupted', message: 'conversation no longer reachable' });
          continue;
        }
        const present = new Set(conv.members);
        const effect: OpEffect =
          op.op === 'add'
            ? { kind: 'added', conversationId: op.conversationId, members: op.members.filter((m) => present.has(m)) }
            : op.op === 'remove'
              ? { kind: 'removed', conversationId: op.conversationId, members: op.members.filter((m) => !present.has(m)) }
              : op.op === 'rename'
                ? { kind: 'renamed', conversationId: op.conversationId, name: conv.name }
                : { kind: 'none' };
        this.store.journalDone(row.id, effect, 'resolved after interruption');
      } catch (e) {
        if (e instanceof AuthError) throw e;
        this.log.warn({ journal: row.id, err: describeError(e) }, 'could not resolve a pending op yet; will try again next run');
      }
    }
    const unresolved = this.store.pendingJournal().filter((r) => r.op.op === 'create').length;
    if (unresolved > 0) {
      // planning now could create those conversations a second time
      throw new TransientError(`${unresolved} interrupted create(s) could not be checked against the backend; nothing else is done until they are`, {
        origin: this.backend.id,
      });
    }
    return { resolved: pending.length, adopted };
  }

  /**
   * A backend that sets a conversation as a whole (`updateConversation`) gets one call for the
   * rename, removes and adds of a conversation; any other backend one call per op.
   */
  private combine(ops: PlanOp[]): PlanOp[][] {
    if (!this.backend.updateConversation) return ops.map((op) => [op]);
    const out: PlanOp[][] = [];
    for (const op of ops) {
      const last = out.at(-1);
      const joinable = (o: PlanOp) => o.op === 'rename' || o.op === 'add' || o.op === 'remove';
      if (last && joinable(op) && joinable(last[0]!) && 'conversationId' in op && op.conversationId === (last[0] as { conversationId: string }).conversationId) {
        last.push(op);
      } else out.push([op]);
    }
    return out;
  }

  private async executeTogether(ops: PlanOp[], runId: number): Promise<('done' | FailedOp)[]> {
    for (const op of ops) {
      const ownership = this.checkOwnership(op);
      if (ownership) return ops.map((o) => ({ op: o, kind: 'permanent', error: ownership }));
    }
    const conversationId = (ops[0] as { conversationId: string }).conversationId;
    const change = {
      add: ops.flatMap((o) => (o.op === 'add' ? o.members : [])),
      remove: ops.flatMap((o) => (o.op === 'remove' ? o.members : [])),
      ...(ops.some((o) => o.op === 'rename') ? { name: (ops.find((o) => o.op === 'rename') as PlanOp & { op: 'rename' }).to } : {}),
    };
    const ids = ops.map((op) => this.store.journalPending(runId, op));
    const update = this.backend.updateConversation!.bind(this.backend);
    try {
      await this.attempt(() => update(conversationId, change));
      ops.forEach((op, i) => this.store.journalDone(ids[i]!, effectOf(op)));
      return ops.map(() => 'done' as const);
    } catch (e) {
      const kind = e instanceof TransientError ? 'transient' : isSyncError(e) ? e.kind : 'permanent';
      const label = isSyncError(e) ? e.label : undefined;
      const message = describeError(e);
      for (const id of ids) this.store.journalFailed(id, { kind, label, message });
      this.log.error({ key: ops[0]!.key, kind, label, err: message }, `could not update "${ops[0]!.name}"`);
      return ops.map((op) => ({ op, kind, error: message, ...(label ? { label } : {}) }));
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

  private async execute(op: PlanOp, runId: number): Promise<'done' | FailedOp> {
    if (op.op !== 'create' && op.op !== 'unbind' && 'conversationId' in op && op.conversationId === '') {
      const bound = this.store.bindingOf(op.key);
      if (!bound) return { op, kind: 'permanent', error: 'the conversation was not created' };
      op = { ...op, conversationId: bound.conversationId };
    }
    const ownership = this.checkOwnership(op);
    if (ownership) return { op, kind: 'permanent', error: ownership };
    // identifiers a retried or recovered create must reuse are journaled before the call
    if (op.op === 'create' && this.backend.prepareCreate && !op.prepared) op = { ...op, prepared: this.backend.prepareCreate({ name: op.name, members: op.members }) };
    const journalId = this.store.journalPending(runId, op);
    try {
      const effect = await this.call(op);
      this.store.journalDone(journalId, effect);
      return 'done';
    } catch (e) {
      const kind = e instanceof TransientError ? 'transient' : isSyncError(e) ? e.kind : 'permanent';
      const label = isSyncError(e) ? e.label : undefined;
      const message = describeError(e);
      this.store.journalFailed(journalId, { kind, label, message });
      const level = e instanceof CapacityError ? 'warn' : 'error';
      this.log[level]({ op: op.op, key: op.key, kind, label, err: message }, `could not ${describeOp(op)}`);
      return { op, kind, error: message, ...(label ? { label } : {}) };
    }
  }

  /** ownership is checked in the plan and again here, right before the call */
  private checkOwnership(op: PlanOp): string | undefined {
    if (op.op === 'create') return undefined;
    const bound = this.store.bindingOf(op.key);
    if (!bound) return `no binding for ${op.key} any more`;
    if (bound.ownerId !== this.opts.ownerId) return `${op.key} is owned by "${bound.ownerId}", not "${this.opts.ownerId}"`;
    if (bound.conversationId !== op.conversationId) return `${op.key} is now bound to ${bound.conversationId}, not ${op.conversationId}`;
    return undefined;
  }

  private async call(op: PlanOp): Promise<OpEffect> {
    const b = this.backend;
    switch (op.op) {
      case 'create': {
        const conv = await this.attempt(() => b.create({ name: op.name, members: op.members, ...(op.prepared ? { prepared: op.prepared } : {}) }));
        return createdEffect(op, conv, this.opts.ownerId, b.id, new Set(op.members));
      }
      case 'add':
        await this.attempt(() => b.addMembers(op.conversationId, op.members));
        // already-present members are now members too: recording them stops endless re-adds
        return effectOf(op);
      case 'remove':
        await this.attempt(() => b.removeMembers(op.conversationId, op.members));
        return effectOf(op);
      case 'rename':
        await this.attempt(() => b.rename(op.conversationId, op.to));
        return effectOf(op);
      case 'unbind':
        return { kind: 'unbound', key: op.key };
      case 'delete': {
        const del = b.delete?.bind(b);
        if (!del) throw new PermanentError(`${b.id} cannot delete conversations`, { origin: b.id });
        await this.attempt(() => del(op.conversationId));
        return { kind: 'deleted', key: op.key };
      }
      case 'archive': {
        const archive = b.archive?.bind(b);
        if (!archive) throw new PermanentError(`${b.id} cannot archive conversations`, { origin: b.id });
        await this.attempt(() => archive(op.conversationId));
        return { kind: 'unbound', key: op.key };
      }
    }
  }

  /** one backend call under the rate limit, retried on transient errors */
  private attempt<T>(fn: () => Promise<T>): Promise<T> {
    return withRetry(
      async () => {
        await this.bucket.take(this.opts.signal);
        return fn();
      },
      this.opts.retry,
      {
        ...(this.opts.signal ? { signal: this.opts.signal } : {}),
        onRetry: (e, attempt, delayMs) => {
          if (e.throttled) this.bucket.slowDown();
          this.log.debug({ err: e.describe(), attempt, delayMs }, 'transient failure: retrying');
        },
      },
    );
  }
}

/** the snapshot change of a rename, add or remove that the backend applied */
function effectOf(op: PlanOp): OpEffect {
  if (op.op === 'add') return { kind: 'added', conversationId: op.conversationId, members: op.members };
  if (op.op === 'remove') return { kind: 'removed', conversationId: op.conversationId, members: op.members };
  if (op.op === 'rename') return { kind: 'renamed', conversationId: op.conversationId, name: op.to };
  return { kind: 'none' };
}

function createdEffect(
  op: PlanOp & { op: 'create' },
  conv: BackendConversation,
  ownerId: string,
  backend: string,
  wanted: Set<string>,
): OpEffect {
  return {
    kind: 'created',
    key: op.key,
    conversationId: conv.id,
    name: conv.name || op.name,
    ownerId,
    backend,
    members: conv.members.filter((m) => wanted.has(m)),
    external: conv.members.filter((m) => !wanted.has(m)),
    groups: op.groups,
    onGroupRemoved: op.onGroupRemoved,
  };
}

export function describeOp(op: PlanOp): string {
  switch (op.op) {
    case 'create':
      return `create "${op.name}" with ${op.members.length} member(s)`;
    case 'add':
      return `add ${op.members.length} member(s) to "${op.name}"`;
    case 'remove':
      return `remove ${op.members.length} member(s) from "${op.name}"`;
    case 'rename':
      return `rename ${op.conversationId} "${op.from}" → "${op.to}"`;
    case 'unbind':
      return `unbind ${op.conversationId} (${op.key}); the conversation is kept`;
    case 'archive':
      return `archive ${op.conversationId} (${op.key})`;
    case 'delete':
      return `delete ${op.conversationId} (${op.key})`;
  }
}

/** the backend as dry-run sees it: reads work, every mutating method throws */
function readOnly(backend: Backend): Backend {
  return new Proxy(backend, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && MUTATORS.has(prop)) {
        return () => {
          throw new Error(`dry-run: ${prop} must not be called`);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
