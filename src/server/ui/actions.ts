import type { Router } from 'express';
import type { Logger } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { DaemonStoppingError, describeError, StalePlanError, SyncError } from '../../errors.js';
import { runNumberOf } from '../../store/runs.js';
import { route } from '../http.js';
import type { UiAuth } from './auth.js';
import { sessionOf } from './auth.js';
import type { StatusPageControl } from './control.js';
import type { Action } from './pages/held.js';

/** an approval that takes longer is answered while it goes on; its result appears on the page */
const ANSWER_WITHIN_MS = 15_000;
const ACTIONS_KEPT = 20;

/**
 * What the page changes, through the daemon only: Approve (what `convsync approve RUN` does) and
 * Sync now. Each is a POST with the session's CSRF token, answered by a redirect (no form sent twice
 * by a reload).
 */
export class UiActions {
  readonly actions: Action[] = [];
  readonly approving = new Set<number>();

  constructor(
    private readonly daemon: StatusPageControl,
    private readonly logger: Logger,
  ) {}

  routes(router: Router, auth: UiAuth): void {
    router.post(
      '/held/:run/approve',
      auth.require,
      auth.checkCsrf,
      route(async (req, res) => {
        const runId = runNumberOf(req.params.run);
        const session = sessionOf(res);
        if (runId === undefined) session.notice = 'The run must be a positive whole number.';
        else if (this.approving.has(runId)) session.notice = `Run #${runId} is being approved already.`;
        else {
          const action = this.approve(runId);
          await Promise.race([action.done, sleep(ANSWER_WITHIN_MS)]);
          session.notice = `Approve run #${runId}: ${action.entry.outcome ?? 'it runs after the run in flight; its result appears below when done'}`;
        }
        res.redirect(303, '/ui/held');
      }),
    );
    router.post('/sync', auth.require, auth.checkCsrf, (req, res) => {
      try {
        this.daemon.request('all', 'page').catch((e: unknown) => this.logger.error({ err: describeError(e) }, 'status page: sync now failed'));
        sessionOf(res).notice = 'A full run was asked for: it starts now, or right after the run in flight.';
      } catch (e) {
        if (!(e instanceof DaemonStoppingError)) throw e;
        sessionOf(res).notice = 'The daemon is stopping: no run was asked for.';
      }
      res.redirect(303, '/ui');
    });
  }

  private approve(runId: number): { entry: Action; done: Promise<void> } {
    const entry: Action = { at: new Date().toISOString(), what: `Approve run #${runId}` };
    this.actions.unshift(entry);
    this.actions.length = Math.min(this.actions.length, ACTIONS_KEPT);
    this.approving.add(runId);
    this.logger.info({ runId }, 'status page: approve');
    const done = this.daemon
      .approve(runId)
      .then((o) => {
        entry.outcome = `${o.released} held-back removal(s) released, ${o.stale} no longer apply (run #${o.runId}, exit ${o.exitCode})`;
        entry.ok = o.exitCode === 0;
      })
      .catch((e: unknown) => {
        entry.ok = false;
        if (e instanceof StalePlanError || e instanceof DaemonStoppingError) entry.outcome = `refused: ${e.message}`;
        else {
          this.logger.error({ err: describeError(e), runId }, 'status page: approve failed');
          const label = e instanceof SyncError ? [e.origin, e.status, e.label].filter((p) => p !== undefined && p !== '').join(' ') : '';
          entry.outcome = `failed${label ? ` (${label})` : ''}; see the daemon log`;
        }
      })
      .finally(() => this.approving.delete(runId));
    return { entry, done };
  }
}
