import type { Logger } from 'pino';
import type { Backend } from '../backends/types.js';
import { PermanentError } from '../errors.js';
import type { Plan, PlanOp, Snapshot } from '../plan/types.js';
import type { Drift, Store } from '../store/store.js';
import { runPool } from '../pool.js';
import type { RetryPolicy } from '../http/retry.js';
import { BackendCaller } from './caller.js';
import { describeOp } from './effects.js';
import { OpRunner, type Outcome } from './op-runner.js';
import { Progress, type ProgressFigures } from './progress.js';
import { recoverPending, type Recovered } from './recover.js';
import { refreshConversations } from './refresh.js';

export { describeOp } from './effects.js';

export interface ReconcilerOptions {
  dryRun: boolean;
  ownerId: string;
  concurrency: number;
  ratePerSecond: number;
  burst: number;
  retry: RetryPolicy;
  /** how long after a create was sent its lost answer may still turn into a conversation (default 2 min) */
  settleMs?: number;
  /** ops in a row that still failed transiently after their retries before the circuit opens */
  circuitThreshold?: number;
  logger: Logger;
  /** the writer lease, checked right before each call that changes something (see CallerOptions) */
  fence?: () => void;
  /** a terminal to draw progress on */
  tty?: NodeJS.WriteStream;
  /** told of each step of an apply (the daemon's live progress) */
  onProgress?: (figures: ProgressFigures) => void;
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

/**
 * Executes a plan against a backend, journal first: each backend call is written `pending`
 * before it is made and `done` (with its snapshot change, in one transaction) or `failed` after.
 * A call that must not be repeated (a create) whose answer is lost stays pending until what it
 * may have made has been looked for. Dry-run is decided here and only here (`BackendCaller`).
 */
export class Reconciler {
  private readonly caller: BackendCaller;
  private readonly log: Logger;

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
    const progress = new Progress(calls.length, this.log, this.opts.tty, undefined, this.opts.onProgress);
    const runner = new OpRunner(this.store, this.caller, { ownerId: this.opts.ownerId, logger: this.log });
    const threshold = this.opts.circuitThreshold ?? 5;
    let transientInARow = 0;
    const stopped = () => result.circuitOpen || result.authFailed !== undefined || this.opts.signal?.aborted === true;
    /** each op's outcome counted; transient failures in a row open the circuit */
    const record = (batch: PlanOp[], outcomes: Outcome[]): void => {
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
    };

    await runPool([...byKey.values()], this.opts.concurrency, async (ops) => {
      // a conversation's ops run in order: create before add, remove before add (room for the new)
      for (const batch of this.combine(ops)) {
        if (stopped()) {
          result.skipped += batch.length;
          continue;
        }
        const together = batch.length === 1 ? [await runner.execute(batch[0]!, runId)] : await runner.executeTogether(batch, runId);
        if (together !== 'one-by-one') record(batch, together);
        else {
          // changes that could not go in one call: op by op, each under the circuit, auth and stop checks
          for (const op of batch) {
            if (stopped()) result.skipped++;
            else record([op], [await runner.execute(op, runId)]);
          }
        }
        progress.tick();
      }
    });
    progress.finish();
    if (runner.refused.length > 0) result.refused = [...runner.refused];
    return result;
  }

  /** the daemon's own backend identity, with the same retries as every other call */
  whoami() {
    return this.caller.whoami();
  }

  /** the backend's own check that its identity may do what the configured mode needs */
  async preflight(): Promise<void> {
    const check = this.backend.preflight?.bind(this.backend);
    if (check) await this.caller.attempt(() => check());
  }

  /** one conversation as the backend has it now (a read, retried like any call) */
  read(conversationId: string) {
    return this.caller.attempt(() => this.backend.get(conversationId));
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
    const batch = this.backend.capabilities.lookupBatch ?? 100;
    for (let i = 0; i < handles.length; i += batch) {
      for (const [k, v] of await this.caller.attempt(() => lookup(handles.slice(i, i + batch)))) out.set(k, v);
    }
    return out;
  }

  refresh(snapshot: Snapshot): Promise<{ drift: Drift[]; unreadable: number }> {
    return refreshConversations(this.caller, snapshot, { ownerId: this.opts.ownerId, concurrency: this.opts.concurrency, logger: this.log });
  }

  recover(): Promise<Recovered> {
    return recoverPending(this.caller, this.store, { ownerId: this.opts.ownerId, logger: this.log, settleMs: this.opts.settleMs ?? 120_000 });
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
      if (
        last &&
        first &&
        joinable(op) &&
        joinable(first) &&
        'conversationId' in op &&
        'conversationId' in first &&
        op.conversationId === first.conversationId
      ) {
        last.push(op);
      } else out.push([op]);
    }
    return out;
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
      // who was there by hand (a migrated conversation) stays so in every batch: `remove: managed` leaves them
      const byHand = new Set(op.external);
      const externalOf = (members: string[]) => {
        const external = members.filter((m) => byHand.has(m));
        return external.length > 0 ? { external } : {};
      };
      // the conversation id is known only after the create: the adds find it in the store
      return [
        { ...op, members: first },
        ...rest.map((members) => ({ op: 'add' as const, key: op.key, name: op.name, conversationId: '', members, ...externalOf(members), reason: op.reason })),
      ];
    }
    return [op];
  }
}
