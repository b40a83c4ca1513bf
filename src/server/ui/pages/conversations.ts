import type { ConversationView, DriftView, JournalView } from '../../../store/views.js';
import { html, type Html } from '../html.js';
import { plural, when } from '../layout.js';

/** what the newest full plan could not do for a conversation (capacity, unmanageable, frozen, …) */
export type Blocked = Map<string, { kind: string; why: string }[]>;

export function conversationsPage(d: { rows: ConversationView[]; total: number; search: string; blocked: Blocked }): Html {
  const shown = d.rows.length < d.total ? html` <span class="muted">(the first ${d.rows.length} of ${d.total}; search to narrow)</span>` : '';
  return html`<h1>Conversations</h1>
<form method="get" action="/ui/conversations" class="search" role="search">
  <label for="filter">Search by name, group, key or id</label>
  <input id="filter" name="q" type="search" value="${d.search}" autocomplete="off">
  <button type="submit">Search</button>
</form>
<p>${plural(d.total, 'conversation')}${d.search ? html` match “${d.search}”` : ''}${shown}</p>
<div class="scroll"><table class="conversations">
<thead><tr><th>Conversation</th><th>Group(s)</th><th>Binding</th><th>Members known</th><th>Last change</th><th>Problems</th></tr></thead>
<tbody>${d.rows.map((c) => row(c, d.blocked.get(c.key) ?? []))}</tbody></table></div>`;
}

function row(c: ConversationView, blocked: { kind: string; why: string }[]): Html {
  const search = [c.name, c.key, c.conversationId, ...c.groups].join(' ').toLowerCase();
  return html`<tr data-search="${search}">
  <td><a href="/ui/conversations/${encodeURIComponent(c.key)}">${c.name}</a><br><span class="muted">${c.key}</span></td>
  <td>${c.groups.map((g) => html`<span class="group">${g}</span> `)}</td>
  <td><span class="state ${c.state}">${c.state}</span><br><span class="muted">${c.conversationId}</span></td>
  <td class="num">${c.members}${c.external > 0 ? html`<br><span class="muted">${c.external} by hand</span>` : ''}${c.leavers > 0 ? html`<br><span class="muted">${c.leavers} left</span>` : ''}</td>
  <td>${when(c.lastOpAt ?? c.updatedAt)}</td>
  <td>${problems(c, blocked)}</td>
</tr>`;
}

function problems(c: ConversationView, blocked: { kind: string; why: string }[]): Html {
  const items: Html[] = [];
  if (c.unmanageable) items.push(html`<li>cannot be managed: ${c.unmanageable}</li>`);
  for (const f of c.failures.slice(0, 5)) {
    items.push(
      f.kind === 'refused'
        ? html`<li>user ${f.userId ?? '?'} refused${f.label ? html` <code>${f.label}</code>` : ''}</li>`
        : html`<li>${f.op} failed${f.kind ? ` (${f.kind})` : ''}${f.label ? html` <code>${f.label}</code>` : ''}</li>`,
    );
  }
  if (c.failures.length > 5) items.push(html`<li>and ${c.failures.length - 5} more failed calls</li>`);
  for (const b of blocked) items.push(html`<li>${b.why}</li>`);
  return items.length > 0 ? html`<ul class="problems">${items}</ul>` : html`<span class="muted">none</span>`;
}

export function conversationPage(d: {
  conversation: ConversationView;
  history: JournalView[];
  drift: DriftView[];
  blocked: { kind: string; why: string }[];
}): Html {
  const c = d.conversation;
  return html`<h1>${c.name}</h1>
<section class="card"><dl>
  <dt>Binding key</dt><dd><code>${c.key}</code> <span class="state ${c.state}">${c.state}</span></dd>
  <dt>Conversation id</dt><dd><code>${c.conversationId}</code></dd>
  <dt>Group(s)</dt><dd>${c.groups.length > 0 ? c.groups.map((g) => html`<span class="group">${g}</span> `) : html`<span class="muted">none</span>`}</dd>
  <dt>Members known</dt><dd>${c.members}${c.external > 0 ? ` (${c.external} added by hand or there before)` : ''}${c.leavers > 0 ? `, ${c.leavers} left on their own` : ''}</dd>
  <dt>Problems</dt><dd>${problems(c, d.blocked)}</dd>
</dl></section>
<h2>History</h2>
${d.history.length === 0 ? html`<p class="muted">No ops journaled (or all pruned).</p>` : historyTable(d.history)}
<h2>Drift</h2>
${d.drift.length === 0 ? html`<p class="muted">No change by hand found.</p>` : driftTable(d.drift, false)}`;
}

function historyTable(rows: JournalView[]): Html {
  return html`<div class="scroll"><table>
<thead><tr><th>When</th><th>Run</th><th>Op</th><th>Members</th><th>Status</th><th>Why</th></tr></thead>
<tbody>${rows.map(
    (
      j,
    ) => html`<tr><td>${when(j.finishedAt ?? j.startedAt)}</td><td>#${j.runId}</td><td>${j.op}</td><td>${j.members > 0 ? html`${j.members}${j.sample.length > 0 ? html` <span class="muted ids">${j.sample.join(', ')}${j.members > j.sample.length ? ', …' : ''}</span>` : ''}` : ''}</td>
<td><span class="result ${j.status}">${j.status}</span>${j.errorKind ? html`<br>${j.errorKind}` : ''}${j.errorLabel ? html` <code>${j.errorLabel}</code>` : ''}</td><td>${j.reason}</td></tr>`,
  )}</tbody></table></div>`;
}

const DRIFT_WORDS: Record<string, string> = {
  added: 'added by hand',
  left: 'left (or removed by hand)',
  renamed: 'renamed by hand',
  deleted: 'deleted by hand',
};

export function driftTable(rows: DriftView[], withConversation: boolean): Html {
  return html`<div class="scroll"><table>
<thead><tr><th>Found</th><th>Run</th>${withConversation ? html`<th>Conversation</th>` : ''}<th>What</th><th>Who or what</th></tr></thead>
<tbody>${rows.map(
    (
      r,
    ) => html`<tr><td>${when(r.detectedAt)}</td><td>#${r.runId}</td>${withConversation ? html`<td><a href="/ui/conversations/${encodeURIComponent(r.key)}">${r.name ?? r.key}</a></td>` : ''}
<td>${DRIFT_WORDS[r.kind] ?? r.kind}</td><td>${r.userId ?? r.detail ?? ''}</td></tr>`,
  )}</tbody></table></div>`;
}

export function driftPage(d: { rows: DriftView[]; kind: string | undefined }): Html {
  const kinds = ['added', 'left', 'renamed', 'deleted'];
  return html`<h1>Drift</h1>
<p>What refreshes found changed on the chat side by hand since convsync last wrote it: members added by hand, people
who left, conversations renamed or deleted.</p>
<p class="filters"><a href="/ui/drift"${d.kind ? '' : html` aria-current="page"`}>all</a>${kinds.map((k) => html` · <a href="/ui/drift?kind=${k}"${d.kind === k ? html` aria-current="page"` : ''}>${DRIFT_WORDS[k]}</a>`)}</p>
${d.rows.length === 0 ? html`<p class="muted">Nothing found.</p>` : driftTable(d.rows, true)}`;
}
