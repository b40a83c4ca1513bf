import type { RunView, SourceView } from '../../../store/views.js';
import type { DaemonStatus } from '../../http.js';
import type { LiveRun } from '../control.js';
import { html, type Html } from '../html.js';
import { between, plural, triggerText, when } from '../layout.js';

export interface OverviewData {
  csrf: string;
  live: LiveRun | undefined;
  nextRunAt: Date | undefined;
  schedule: string;
  status: DaemonStatus;
  runs: RunView[];
  totals: { conversations: number; members: number; pending: number };
  /** runs whose held-back ops wait for approval */
  held: number;
  sources: { name: string; type: string; read: SourceView | undefined }[];
  backend: { kind: string; id: string; apiVersions?: string; mode: string };
  guards: [string, string][];
}

export function overviewPage(d: OverviewData): Html {
  return html`<h1>Overview</h1>
<div class="grid">
  ${liveSection(d)}
  ${daemonSection(d)}
  ${backendSection(d)}
</div>
<h2>Last runs</h2>
${runsTable(d.runs)}
<div class="grid">
  ${sourcesSection(d)}
  <section class="card"><h2>Guards in force</h2><dl>${d.guards.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl></section>
</div>`;
}

/** the run in flight; the script keeps it up to date from /ui/events */
function liveSection(d: OverviewData): Html {
  const run = d.live;
  return html`<section class="card" id="live" data-running="${run ? 'true' : 'false'}">
  <h2>Now</h2>
  <p id="live-text">${run ? liveText(run) : 'No run in flight.'}</p>
  <progress id="live-bar" max="${run?.progress?.total ?? 1}" value="${run?.progress?.done ?? 0}"${run?.progress ? '' : html` hidden`}></progress>
  <p>Next scheduled run: ${d.nextRunAt ? when(d.nextRunAt.toISOString()) : html`<span class="muted">none</span>`} <span class="muted">(schedule <code>${d.schedule}</code>)</span></p>
  <form method="post" action="/ui/sync"><input type="hidden" name="_csrf" value="${d.csrf}"><button type="submit">Sync now</button></form>
</section>`;
}

/** the same words the script writes (app.js) */
export function liveText(run: LiveRun): string {
  const head = `Run ${run.runId !== undefined ? `#${run.runId} ` : ''}· ${triggerText(run.trigger, 'sync')}`;
  const p = run.progress;
  if (run.phase === 'planning' || !p) return `${head}: reading the sources and planning`;
  const left = p.secondsLeft === undefined ? '' : ` · about ${p.secondsLeft} s left`;
  return `${head}: applying ${p.done}/${p.total} calls · ${p.perSecond}/s${left}`;
}

function daemonSection(d: OverviewData): Html {
  const s = d.status;
  return html`<section class="card"><h2>Daemon</h2><dl>
  <dt>Last run</dt><dd>${when(s.lastRunAt)} ${s.lastResult ? html`<span class="result ${s.lastResult}">${s.lastResult}</span>` : ''}${s.lastExitCode !== undefined ? ` (exit ${s.lastExitCode})` : ''}</dd>
  <dt>Conversations</dt><dd>${d.totals.conversations} bound, ${plural(d.totals.members, 'member')} known</dd>
  <dt>Held back</dt><dd>${d.held > 0 ? html`<a href="/ui/held">${plural(d.held, 'run')} waiting for approval</a>` : 'nothing'}</dd>
  ${d.totals.pending > 0 ? html`<dt>Pending calls</dt><dd>${d.totals.pending} (resolved at the start of the next run)</dd>` : ''}
  ${s.lastError ? html`<dt>Last error</dt><dd class="problem">${s.lastError}</dd>` : ''}
  ${s.leaseLost ? html`<dt>Writer lease</dt><dd class="problem">lost: this daemon no longer writes</dd>` : ''}
</dl></section>`;
}

function backendSection(d: OverviewData): Html {
  const b = d.backend;
  const s = d.status;
  return html`<section class="card"><h2>Backend</h2><dl>
  <dt>Kind</dt><dd>${b.kind} <span class="muted">(${b.id})</span></dd>
  ${b.apiVersions ? html`<dt>API versions</dt><dd>${b.apiVersions}</dd>` : ''}
  <dt>Mode</dt><dd>${b.mode}</dd>
  <dt>Credentials</dt><dd>${s.backendOk ? html`<span class="result ok">accepted</span>` : html`<span class="result failed">refused</span>${s.lastErrorLabel ? ` (${s.lastErrorLabel})` : ''}`}</dd>
</dl></section>`;
}

function sourcesSection(d: OverviewData): Html {
  return html`<section class="card"><h2>Sources</h2><div class="scroll"><table>
<thead><tr><th>Source</th><th>Type</th><th>Last good read</th><th>Groups</th><th>Memberships</th></tr></thead>
<tbody>${d.sources.map(
    (s) =>
      html`<tr><td>${s.name}</td><td>${s.type}</td><td>${when(s.read?.readAt ?? s.read?.sizedAt)}</td><td class="num">${s.read?.groups ?? '—'}</td><td class="num">${s.read?.memberships ?? '—'}</td></tr>`,
  )}</tbody></table></div>
<p class="muted">Groups and memberships as of the last complete read (${when(d.sources.map((s) => s.read?.sizedAt).find((x) => x))}).</p></section>`;
}

type Summary = {
  plan?: { create?: number; add?: number; remove?: number; rename?: number; blocked?: number; quarantined?: boolean };
  approved?: number;
  released?: number;
  stale?: number;
} | null;

export function runsTable(runs: RunView[]): Html {
  if (runs.length === 0) return html`<p class="muted">No run yet.</p>`;
  return html`<div class="scroll"><table class="runs">
<thead><tr><th>Run</th><th>Trigger</th><th>Started</th><th>Duration</th><th>Result</th><th>Exit</th><th>Calls made</th><th>Plan</th></tr></thead>
<tbody>${runs.map((r) => {
    const s = r.summary as Summary;
    return html`<tr>
  <td>#${r.id}${r.mode !== 'sync' ? html` <span class="muted">${r.mode}</span>` : ''}${r.scoped ? html` <span class="muted">scoped</span>` : ''}</td>
  <td>${triggerText(r.trigger, r.mode)}</td>
  <td>${when(r.startedAt)}</td>
  <td>${between(r.startedAt, r.finishedAt)}</td>
  <td><span class="result ${r.result ?? 'running'}">${r.result ?? (r.finishedAt ? 'interrupted' : 'running')}</span>${r.error ? html`<br><span class="problem">${r.error}</span>` : ''}</td>
  <td class="num">${r.exitCode ?? '—'}</td>
  <td>${opsText(r.ops)}</td>
  <td>${planText(s)}</td>
</tr>`;
  })}</tbody></table></div>`;
}

function opsText(ops: RunView['ops']): Html {
  const parts = Object.entries(ops).map(([op, n]) => {
    const failed = n.failed ? html` <span class="problem">${n.failed} failed</span>` : '';
    const pending = n.pending ? html` <span class="muted">${n.pending} pending</span>` : '';
    return html`<span class="op">${op} ${n.done ?? 0}${failed}${pending}</span>`;
  });
  return parts.length > 0 ? html`${parts}` : html`<span class="muted">none</span>`;
}

function planText(s: Summary): Html {
  if (s?.approved !== undefined) return html`approved run #${s.approved}: ${s.released ?? 0} released, ${s.stale ?? 0} no longer apply`;
  const p = s?.plan;
  if (!p) return html`<span class="muted">—</span>`;
  const kinds = (['create', 'add', 'remove', 'rename'] as const).filter((k) => (p[k] ?? 0) > 0).map((k) => `${k} ${p[k]}`);
  const blocked = p.blocked ? html` <span class="muted">${kinds.length > 0 ? '· ' : ''}${p.blocked} blocked</span>` : '';
  const held = p.quarantined ? html` <span class="result quarantined">held back</span>` : '';
  const nothing = kinds.length === 0 && !p.blocked ? html`<span class="muted">nothing to do</span>` : '';
  return html`${kinds.join(' · ')}${nothing}${blocked}${held}`;
}
