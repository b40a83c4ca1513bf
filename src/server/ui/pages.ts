import type { Response, Router } from 'express';
import type { Config } from '../../config/schema.js';
import { AuthError, describeError, SyncError } from '../../errors.js';
import type { BlockedOp, Plan } from '../../plan/types.js';
import type { Store } from '../../store/store.js';
import type { Logger } from 'pino';
import { route } from '../http.js';
import { sessionOf } from './auth.js';
import type { StatusPageControl } from './control.js';
import type { Html } from './html.js';
import { page, type Section } from './layout.js';
import { conversationPage, conversationsPage, driftPage, type Blocked } from './pages/conversations.js';
import { explainPage, messagePage } from './pages/forms.js';
import { heldPage, type Action } from './pages/held.js';
import { overviewPage, type OverviewData } from './pages/overview.js';

export interface PageDeps {
  config: Config;
  store: Store;
  daemon: StatusPageControl;
  logger: Logger;
  /** the operator's recent actions (newest first) and the runs being approved now */
  actions: Action[];
  approving: ReadonlySet<number>;
}

/** failures of a conversation's calls shown: those of the last week */
const FAILURES_FOR_MS = 7 * 86_400_000;
/** plan blocks worth an operator's eye (the others are the plan doing its job) */
const PROBLEM_BLOCKS = new Set(['capacity', 'frozen', 'pending', 'guard']);
const DRIFT_KINDS = ['added', 'left', 'renamed', 'deleted'];

/** the pages a signed-in browser reads; each renders what the store and the daemon say now */
export function pageRoutes(router: Router, deps: PageDeps): void {
  const { store, daemon } = deps;
  const show = (res: Response, opts: { title: string; section?: Section; body: Html; status?: number }) => {
    const session = sessionOf(res);
    const notice = session.notice;
    delete session.notice;
    const held = store.views.heldRunIds().length;
    res
      .status(opts.status ?? 200)
      .type('html')
      .send(page({ ...opts, csrf: session.csrf, held, notice }));
  };

  router.get('/', (req, res) => show(res, { title: 'Overview', section: 'overview', body: overviewPage(overviewData(deps, sessionOf(res).csrf)) }));

  router.get('/held', (req, res) => {
    show(res, {
      title: 'Held back',
      section: 'held',
      body: heldPage({ csrf: sessionOf(res).csrf, held: store.views.heldRuns(), actions: deps.actions, approving: deps.approving }),
    });
  });

  router.get('/conversations', (req, res) => {
    const search = typeof req.query.q === 'string' ? req.query.q.slice(0, 200) : '';
    const { rows, total } = store.views.conversations({ search, limit: 500, failuresSince: since(FAILURES_FOR_MS) });
    show(res, { title: 'Conversations', section: 'conversations', body: conversationsPage({ rows, total, search, blocked: blockedByKey(store) }) });
  });

  router.get('/conversations/:key', (req, res) => {
    const found = store.views.conversation(req.params.key!, 200, since(FAILURES_FOR_MS));
    if (!found) {
      show(res, {
        title: 'Not found',
        section: 'conversations',
        status: 404,
        body: messagePage({ title: 'No such conversation', text: `No binding has the key "${req.params.key}".` }),
      });
      return;
    }
    show(res, {
      title: found.conversation.name,
      section: 'conversations',
      body: conversationPage({ ...found, blocked: blockedByKey(store).get(found.conversation.key) ?? [] }),
    });
  });

  router.get('/drift', (req, res) => {
    const kind = typeof req.query.kind === 'string' && DRIFT_KINDS.includes(req.query.kind) ? req.query.kind : undefined;
    show(res, { title: 'Drift', section: 'drift', body: driftPage({ rows: store.views.drift({ limit: 300, kind }), kind }) });
  });

  router.get(
    '/explain',
    route(async (req, res) => {
      const kind = req.query.kind === 'group' ? 'group' : 'user';
      const query = typeof req.query.q === 'string' ? req.query.q.trim().slice(0, 200) : '';
      if (query === '') return show(res, { title: 'Explain', section: 'explain', body: explainPage({ kind, query }) });
      let body: Html;
      try {
        const text = await daemon.explain(kind, query);
        body =
          text === undefined
            ? explainPage({ kind, query, error: `No ${kind === 'user' ? 'person' : 'group'} matches "${query}" in the sources.` })
            : explainPage({ kind, query, text });
      } catch (e) {
        deps.logger.error({ err: describeError(e) }, 'status page: explain failed');
        const label = e instanceof SyncError ? [e.origin, e.status, e.label].filter((p) => p !== undefined && p !== '').join(' ') : undefined;
        body = explainPage({
          kind,
          query,
          error: `Explain failed${e instanceof AuthError ? ': the credentials were refused' : ''}${label ? ` (${label})` : ''}; see the daemon log.`,
        });
      }
      show(res, { title: 'Explain', section: 'explain', body });
    }),
  );
}

function since(ms: number): string {
  return new Date(Date.now() - ms).toISOString();
}

/** what the newest full plan held back or could not do, by conversation */
function blockedByKey(store: Store): Blocked {
  const latest = store.views.latestPlan();
  const out: Blocked = new Map();
  if (!latest) return out;
  // an op still held waits for approval (this run's, or an earlier one's it held again); an approved one no longer does
  const held = store.guards.heldOps();
  for (const b of (latest.plan as Plan).blocked as BlockedOp[]) {
    if (!PROBLEM_BLOCKS.has(b.kind) || (b.kind === 'guard' && !held.has(`${b.op.op} ${b.op.key}`))) continue;
    const list = out.get(b.op.key) ?? [];
    list.push({ kind: b.kind, why: `${b.op.op}: ${b.why}` });
    out.set(b.op.key, list);
  }
  return out;
}

function overviewData(deps: PageDeps, csrf: string): OverviewData {
  const { config, store, daemon } = deps;
  const reads = new Map(store.views.sources().map((s) => [s.source, s]));
  const b = config.backend;
  const g = config.guards;
  const pct = (x: number) => `${Math.round(x * 100)} %`;
  return {
    csrf,
    live: daemon.live(),
    nextRunAt: daemon.nextRunAt(),
    schedule: config.schedule,
    status: daemon.status,
    runs: store.views.runs(15),
    totals: store.views.totals(),
    held: store.views.heldRunIds().length,
    sources: config.sources.map((s) => ({ name: s.name, type: s.type, read: reads.get(s.name) })),
    backend: {
      kind: b.type,
      id: daemon.backendId(),
      ...(b.type === 'wire' ? { apiVersions: `v${b.apiVersions.min}–v${b.apiVersions.max} accepted, the highest both sides speak is used` } : {}),
      mode: `${b.type === 'wire' ? `${b.conversationType} conversations, ` : ''}policy ${config.policy}`,
    },
    guards: [
      ['Removals per run', String(g.maxRemovalsPerRun)],
      ['Share of a conversation', `${pct(g.maxRemovalRatio)} (conversations of ${g.removalRatioMinMembers}+ members)`],
      ['Deletes and archives per run', String(g.maxDeletesPerRun)],
      ['Unbinds per run', String(g.maxUnbindsPerRun)],
      ['Source shrinking by', pct(g.maxSourceShrink)],
      ['Scoped runs counted over', g.window],
      ['Never removed', g.protect.length > 0 ? g.protect.join(', ') : 'convsync itself'],
    ],
  };
}
