import type { ProgressFigures } from '../../reconcile/progress.js';
import type { LiveRun } from './control.js';

/** the page is told of progress at most this often (an apply may make thousands of calls a second) */
const EVERY_MS = 250;

/**
 * The run in flight, for the status page's live view: the daemon says when a run begins and ends,
 * the reconciler tells each step; watchers (the page's event streams) hear at most one update per
 * `EVERY_MS`, and always the last.
 */
export class LiveTracker {
  private run: LiveRun | undefined;
  private readonly listeners = new Set<(live: LiveRun | undefined) => void>();
  private lastSent = 0;
  private timer: NodeJS.Timeout | undefined;

  get(): LiveRun | undefined {
    return this.run && { ...this.run };
  }

  watch(listener: (live: LiveRun | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** a run asked for; it is named once it is recorded (`named`) */
  begin(trigger: string): void {
    this.run = { trigger, startedAt: new Date().toISOString(), phase: 'planning', runId: undefined };
    this.send();
  }

  /** the run in flight is recorded under this id */
  named(runId: number): void {
    if (!this.run) return;
    this.run = { ...this.run, runId };
    this.send();
  }

  progress(figures: ProgressFigures): void {
    if (!this.run) return;
    this.run = { ...this.run, phase: 'applying', progress: figures };
    const wait = this.lastSent + EVERY_MS - Date.now();
    if (wait <= 0) this.send();
    else this.timer ??= setTimeout(() => this.send(), wait).unref();
  }

  end(): void {
    this.run = undefined;
    this.send();
  }

  private send(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.lastSent = Date.now();
    const now = this.get();
    for (const l of this.listeners) l(now);
  }
}
