import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config/schema.js';
import { fromPlainError, type PlainError } from '../errors.js';
import type { ProgressFigures } from '../reconcile/progress.js';
import type { RunOptions, RunOutcome } from '../reconcile/run.js';
import type { Runner } from './runner.js';

/** what the daemon's thread asks of the run thread */
export type ToRunThread =
  | { type: 'run'; id: number; opts: RunOptions }
  | { type: 'approve'; id: number; heldIn: number }
  | { type: 'explain'; id: number; kind: 'user' | 'group'; query: string }
  | { type: 'abort' }
  | { type: 'close' };

/** what the run thread tells the daemon's */
export type FromRunThread =
  | { type: 'ready'; backendId: string }
  | { type: 'failed'; error: PlainError }
  | { type: 'answer'; id: number; value: unknown; backendId: string }
  | { type: 'error'; id: number; error: PlainError; backendId: string }
  | { type: 'progress'; figures: ProgressFigures }
  | { type: 'run-started'; runId: number }
  | { type: 'backend-response'; status: number };

// beside the entry in both layouts: tsc's (dist/daemon/) and the bundle's (dist/chunks/)
const ENTRY = fileURLToPath(new URL('../daemon-worker.js', import.meta.url));
/** how long the worker has to close its app before it is stopped */
const CLOSE_GRACE_MS = 2000;
/**
 * The run thread's young generation, in MB: at most 64 MB a semi-space, where V8's default stops at
 * 16 (it grows only as far as a run's allocations need). A run allocates for every group it reads
 * and plans, and with the default most collections copied objects still in use: a 0.1 % change of
 * 1,000,000 memberships took 0.56–0.57 s beyond its writes, 0.47–0.51 s with this (`npm run bench`,
 * medians of five runs, three rounds each).
 */
const YOUNG_GENERATION_MB = 192;

/**
 * The log pages past which a commit of the run thread copies the log into the database: it does it
 * once no call is in flight instead (`WriteAheadLog.checkpointAt`), and a larger run still copies every
 * 20,000 pages. The daemon's own connection waits for twice as many, so that during a run the run
 * thread copies, never a push or a lease renewal. A 0.1 % change of 1,000,000 memberships took
 * 0.47–0.69 s beyond its writes while its own commits copied the log (`npm run bench`, medians of
 * five changes, six runs), and 0.39–0.44 s in six of seven runs since (0.77 s in one, while the
 * machine was slower).
 */
export const LOG_PAGES_BETWEEN_RUNS = 20_000;
/**
 * How often the idle run thread copies the log that pushes and lease renewals wrote. Pushes write
 * fast (an Entra-style first cycle, about 5,000 pages a second here): copied once a minute, the log
 * reached the daemon's own limit every 8 s, and the commit of a push that passed it copied 40,000
 * pages on the daemon's thread, holding its event loop 0.33–0.55 s. Copied every second, it still
 * held it 0.11–0.14 s: pushes added to the log while it was copied, so it was never whole when a
 * writer began and never started over (`LOG_RESTART_PAGES`). A copy with nothing to copy costs
 * next to nothing.
 */
export const IDLE_CHECKPOINT_MS = 1_000;
/**
 * The log, copied whole, is started over past this many pages (16 MB at 4 KiB pages, the size its
 * file is cut back to): with that, the longest hold of the daemon's event loop over a first cycle
 * of 20,000 users went to 0.06 s, over 100,000 (the push look-ups bench) to 0.09–0.11 s. What is left is
 * the garbage collector, and the restarts, which hold writes up for 17–35 ms once the log is long.
 */
export const LOG_RESTART_PAGES = 4_000;
/** how long copies may stop short of the log's end, held back by a reader, before the run thread tells */
export const LOG_HELD_BACK_TELL_MS = 5 * 60_000;

type Call = Extract<ToRunThread, { id: number }> extends infer C ? (C extends unknown ? Omit<C, 'id'> : never) : never;

/**
 * The daemon's runs on a worker thread (src/daemon-worker.ts), so that its own thread stays free
 * for SCIM pushes, SAML logins, health checks and the status page while a run reads and plans a
 * large directory. One worker, started with the daemon; if it dies, the call in flight fails and
 * the next call starts another.
 */
export class RunThread implements Runner {
  private worker: Worker | undefined;
  private starting: Promise<Worker> | undefined;
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private lastBackendId: string;

  constructor(
    private readonly config: Config,
    private readonly opts: {
      nonce: string;
      pretty: boolean;
      backendId: string;
      onProgress: (figures: ProgressFigures) => void;
      onRunStarted: (runId: number) => void;
      onBackendResponse: (status: number) => void;
    },
  ) {
    this.lastBackendId = opts.backendId;
  }

  /** starts the worker; rejects with why it could not (a store, backend or source it could not open) */
  start(): Promise<Worker> {
    if (this.worker) return Promise.resolve(this.worker);
    if (!existsSync(ENTRY)) return Promise.reject(new Error(`the run thread's entry ${ENTRY} is missing: build convsync again (npm run build)`));
    this.starting ??= new Promise<Worker>((resolve, reject) => {
      const worker = new Worker(ENTRY, {
        workerData: { config: this.config, nonce: this.opts.nonce, pretty: this.opts.pretty },
        resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
      });
      worker.on('message', (m: FromRunThread) => {
        if (m.type === 'ready') {
          this.lastBackendId = m.backendId;
          this.worker = worker;
          resolve(worker);
        } else if (m.type === 'failed') reject(fromPlainError(m.error));
        else this.received(m);
      });
      worker.on('error', (e) => this.ended(worker, e, reject));
      worker.on('exit', (code) => this.ended(worker, new Error(`the run thread exited (code ${code})`), reject));
    }).finally(() => (this.starting = undefined));
    return this.starting;
  }

  run(opts: RunOptions): Promise<RunOutcome> {
    return this.call({ type: 'run', opts }) as Promise<RunOutcome>;
  }

  approve(heldIn: number): Promise<RunOutcome & { released: number; stale: number }> {
    return this.call({ type: 'approve', heldIn }) as Promise<RunOutcome & { released: number; stale: number }>;
  }

  explain(kind: 'user' | 'group', query: string): Promise<string | undefined> {
    return this.call({ type: 'explain', kind, query }) as Promise<string | undefined>;
  }

  backendId(): string {
    return this.lastBackendId;
  }

  /** stop taking new calls: the call in flight finishes its backend call, is journaled, and ends */
  abort(): void {
    this.worker?.postMessage({ type: 'abort' } satisfies ToRunThread);
  }

  /** closes the worker's app (its store connection and backend session) and lets it exit */
  async close(): Promise<void> {
    const worker = this.worker ?? (await this.starting?.catch(() => undefined));
    if (!worker) return;
    const exited = new Promise<boolean>((resolve) => worker.once('exit', () => resolve(true)));
    worker.postMessage({ type: 'close' } satisfies ToRunThread);
    // a call still waiting on the network would keep it alive: what it did is journaled
    let timer: NodeJS.Timeout | undefined;
    const gone = await Promise.race([exited, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), CLOSE_GRACE_MS)))]);
    clearTimeout(timer);
    if (!gone) await worker.terminate();
  }

  private async call(c: Call): Promise<unknown> {
    const worker = await this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      worker.postMessage({ ...c, id } as ToRunThread);
    });
  }

  private received(m: Exclude<FromRunThread, { type: 'ready' | 'failed' }>): void {
    if (m.type === 'progress') return this.opts.onProgress(m.figures);
    if (m.type === 'run-started') return this.opts.onRunStarted(m.runId);
    if (m.type === 'backend-response') return this.opts.onBackendResponse(m.status);
    this.lastBackendId = m.backendId;
    const call = this.calls.get(m.id);
    this.calls.delete(m.id);
    if (m.type === 'answer') call?.resolve(m.value);
    else call?.reject(fromPlainError(m.error));
  }

  private ended(worker: Worker, why: Error, reject: (e: Error) => void): void {
    if (this.worker !== worker && this.worker !== undefined) return;
    this.worker = undefined;
    reject(why);
    for (const call of this.calls.values()) call.reject(why);
    this.calls.clear();
  }
}
