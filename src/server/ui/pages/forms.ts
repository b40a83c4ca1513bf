import { html, type Html } from '../html.js';

export function loginPage(d: { loginCsrf: string; error?: string; next: string }): Html {
  return html`<h1>Sign in</h1>
<form method="post" action="/ui/login" class="card login">
  <input type="hidden" name="_csrf" value="${d.loginCsrf}">
  <input type="hidden" name="next" value="${d.next}">
  <label for="token">Token <span class="muted">(server.uiTokenFile, or the sync token)</span></label>
  <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
  ${d.error ? html`<p class="problem" role="alert">${d.error}</p>` : ''}
  <button type="submit">Sign in</button>
</form>`;
}

export function explainPage(d: { kind: 'user' | 'group'; query: string; text?: string; error?: string }): Html {
  return html`<h1>Explain</h1>
<p>The path of one person or one group: source → mapping → identity → conversation → plan, as
<code>convsync explain</code> prints it. It reads the sources (a dry run: nothing is changed).</p>
<form method="get" action="/ui/explain" class="search" role="search">
  <select name="kind" aria-label="what to explain">
    <option value="user"${d.kind === 'user' ? html` selected` : ''}>person</option>
    <option value="group"${d.kind === 'group' ? html` selected` : ''}>group</option>
  </select>
  <input name="q" type="search" value="${d.query}" placeholder="user name, e-mail, id, or group name" aria-label="who or which group" required>
  <button type="submit">Explain</button>
</form>
${d.error ? html`<p class="problem">${d.error}</p>` : ''}
${d.text !== undefined ? html`<pre class="explain">${d.text}</pre>` : ''}`;
}

export function messagePage(d: { title: string; text: string }): Html {
  return html`<h1>${d.title}</h1><p>${d.text}</p><p><a href="/ui">Back to the overview</a></p>`;
}
