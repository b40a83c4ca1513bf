import type { Express, RequestHandler } from 'express';
import { StalePlanError } from '../errors.js';
import { runNumberOf } from '../store/runs.js';
import type { RunOutcome } from '../reconcile/run.js';
import type { DaemonControl } from './daemon-control.js';
import { route } from './route.js';

/** `POST /sync` (a run now; `?allowRemovals=true`: sync --allow-removals) and `POST /approve/{run}`, behind the sync token */
export function mountRunRoutes(app: Express, daemon: DaemonControl, requireToken: RequestHandler): void {
  app.post(
    '/sync',
    requireToken,
    route(async (req, res) => {
      if (req.query.allowRemovals === 'true') {
        // releases what guards hold back: an operator's run, alone, answered when done
        const o = await daemon.syncAllowingRemovals();
        res.status(200).json(outcomeBody(o));
        return;
      }
      const outcome = daemon.request('all', 'api');
      if (req.query.wait !== 'true') {
        res.status(202).json({ queued: true });
        return;
      }
      const o = await outcome;
      res.status(o ? 200 : 503).json(o ? outcomeBody(o) : { runId: null, error: 'the run did not finish (see the daemon log)' });
    }),
  );

  app.post(
    '/approve/:run',
    requireToken,
    route(async (req, res) => {
      const runId = runNumberOf(req.params.run);
      if (runId === undefined) {
        res.status(400).json({ error: 'the run must be a positive whole number (see convsync status)' });
        return;
      }
      try {
        const o = await daemon.approve(runId);
        res.status(200).json({ ...outcomeBody(o), approved: runId, released: o.released, stale: o.stale });
      } catch (e) {
        if (!(e instanceof StalePlanError)) throw e;
        res.status(409).json({ error: e.message });
      }
    }),
  );
}

export function outcomeBody(o: RunOutcome) {
  return { runId: o.runId, mode: o.mode, exitCode: o.exitCode, summary: o.plan.summary, plan: o.plan, result: o.result, readErrors: o.readErrors };
}
