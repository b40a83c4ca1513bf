import { html, type Html } from './html.js';

export type Section = 'overview' | 'held' | 'conversations' | 'drift' | 'explain';

const NAV: [Section, string, string][] = [
  ['overview', 'Overview', '/ui'],
  ['held', 'Held back', '/ui/held'],
  ['conversations', 'Conversations', '/ui/conversations'],
  ['drift', 'Drift', '/ui/drift'],
  ['explain', 'Explain', '/ui/explain'],
];

/** a whole page: navigation (when signed in), the notice left by the last action, and the body */
export function page(opts: { title: string; section?: Section; csrf?: string; held?: number; notice?: string; body: Html }): string {
  const nav = opts.csrf
    ? html`<nav>${NAV.map(([s, label, href]) => html`<a href="${href}"${s === opts.section ? html` aria-current="page"` : ''}>${label}${s === 'held' && opts.held ? html` <span class="badge">${opts.held}</span>` : ''}</a>`)}
        <form method="post" action="/ui/logout" class="inline"><input type="hidden" name="_csrf" value="${opts.csrf}"><button type="submit" class="link">Sign out</button></form></nav>`
    : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${opts.title} · convsync</title>
<link rel="stylesheet" href="/ui/assets/app.css">
<script src="/ui/assets/app.js" defer></script>
</head>
<body>
<header><a class="brand" href="/ui">convsync</a>${nav}</header>
<main>
${opts.notice ? html`<p class="notice" role="status">${opts.notice}</p>` : ''}
${opts.body}
</main>
</body>
</html>
`.text;
}

/** "2026-11-01 12:03:04 UTC" in a <time>, or a dash */
export function when(iso: string | null | undefined): Html {
  if (!iso) return html`<span class="muted">—</span>`;
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC')}</time>`;
}

/** 950 ms, 12.3 s, 4 min 10 s, 2 h 5 min */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function between(from: string, to: string | null): string {
  return to ? duration(Date.parse(to) - Date.parse(from)) : 'running';
}

/** what asked for a run, in words */
export function triggerText(trigger: string | null, mode: string): string {
  if (trigger === null) return mode === 'sync' ? 'command line' : `command line (${mode})`;
  const words: Record<string, string> = {
    schedule: 'schedule',
    start: 'daemon start',
    push: 'SCIM push',
    saml: 'SAML login',
    api: 'manual (POST /sync)',
    page: 'manual (status page)',
    approve: 'manual (approve)',
    'allow-removals': 'manual (--allow-removals)',
    queued: 'queued request',
  };
  return trigger
    .split('+')
    .map((t) => words[t] ?? t)
    .join(' + ');
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
