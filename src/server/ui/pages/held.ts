import type { BlockedOp, Plan } from '../../../plan/types.js';
import type { HeldRun } from '../../../store/views.js';
import { html, type Html } from '../html.js';
import { plural, triggerText, when } from '../layout.js';

/** an operator's action from the page and what came of it */
export interface Action {
  at: string;
  what: string;
  /** undefined while it runs */
  outcome?: string;
  ok?: boolean;
}

export function heldPage(d: { csrf: string; held: HeldRun[]; actions: Action[]; approving: ReadonlySet<number> }): Html {
  return html`<h1>Held back</h1>
<p>Removals, deletes, archives and unbinds that a guard held back wait here until approved. Approving a run does what
<code>convsync approve RUN</code> does: each held op is checked against a fresh plan first, so someone back in their
group since is not removed.</p>
${d.held.length === 0 ? html`<p class="card">Nothing is held back.</p>` : d.held.map((h) => heldRun(h, d.csrf, d.approving.has(h.run.id)))}
<form method="post" action="/ui/sync"><input type="hidden" name="_csrf" value="${d.csrf}"><button type="submit">Sync now</button></form>
${d.actions.length > 0 ? actionsList(d.actions) : ''}`;
}

function heldRun(h: HeldRun, csrf: string, approving: boolean): Html {
  const plan = h.plan as Plan;
  const held = plan.blocked.filter((b) => b.kind === 'guard');
  const removals = held.reduce((n, b) => n + (b.op.op === 'remove' ? b.op.members.length : 0), 0);
  const others = held.filter((b) => b.op.op !== 'remove').length;
  const tripped = plan.warnings.filter((w) => w.startsWith('guards tripped:'));
  return html`<section class="card held" data-run="${h.run.id}">
  <h2>Run #${h.run.id} <span class="muted">${triggerText(h.run.trigger, h.run.mode)}${h.run.scoped ? ', scoped' : ''}, ${when(h.run.startedAt)}</span></h2>
  <p><strong>${plural(removals, 'removal')}${others > 0 ? `, ${plural(others, 'delete, archive or unbind', 'deletes, archives or unbinds')}` : ''}</strong> held back in ${plural(new Set(held.map((b) => b.op.key)).size, 'conversation')}.</p>
  ${tripped.length > 0 ? html`<ul class="why">${tripped.map((w) => html`<li>${w}</li>`)}</ul>` : ''}
  <div class="scroll"><table>
  <thead><tr><th>Conversation</th><th>Held</th><th>Who or what</th><th>Why</th></tr></thead>
  <tbody>${held.map(heldOp)}</tbody></table></div>
  ${
    approving
      ? html`<p class="muted">Approval running…</p>`
      : html`<form method="post" action="/ui/held/${h.run.id}/approve"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit" class="danger">Approve run #${h.run.id}</button></form>`
  }
</section>`;
}

function heldOp(b: BlockedOp): Html {
  const op = b.op;
  const who =
    op.op === 'remove'
      ? html`<details><summary>${plural(op.members.length, 'member')}</summary><ul class="ids">${op.members.map((m) => html`<li>${m}</li>`)}</ul></details>`
      : html`the conversation (${op.op})`;
  return html`<tr><td><a href="/ui/conversations/${encodeURIComponent(op.key)}">${op.name}</a><br><span class="muted">${op.key}</span></td><td>${op.op}</td><td>${who}</td><td>${b.why}</td></tr>`;
}

function actionsList(actions: Action[]): Html {
  return html`<h2>Recent actions from this page</h2><ul class="actions">${actions.map(
    (a) =>
      html`<li>${when(a.at)} ${a.what}: ${a.outcome === undefined ? html`<span class="muted">running…</span>` : html`<span class="${a.ok ? 'ok' : 'problem'}">${a.outcome}</span>`}</li>`,
  )}</ul>`;
}
