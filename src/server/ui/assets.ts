/**
 * The page's stylesheet and script, served as files (/ui/assets/…) so that the Content-Security-
 * Policy can forbid inline script and style. No build step: what is here is what the browser gets.
 */

export const STYLE = `
:root { --fg: #1d2330; --muted: #6b7280; --line: #dde1e8; --bg: #f6f7f9; --card: #fff; --accent: #2456c9; --bad: #b42318; --good: #067647; --warn: #b54708; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.25rem; padding: .6rem 1rem; background: #1d2330; color: #fff; }
header a { color: #dfe6f5; text-decoration: none; }
header a[aria-current="page"] { color: #fff; font-weight: 600; border-bottom: 2px solid #fff; }
.brand { font-weight: 700; color: #fff; margin-right: .5rem; }
nav { display: flex; flex-wrap: wrap; align-items: center; gap: .35rem 1rem; flex: 1; }
nav form { margin-left: auto; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.25rem 0 .5rem; }
.card h2 { margin-top: 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .9rem 1rem; margin: 0 0 1rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); gap: 1rem; margin: 1rem 0; }
.grid > .card { margin: 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem .75rem; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; background: var(--card); font-size: .92rem; }
th, td { text-align: left; vertical-align: top; padding: .4rem .55rem; border-bottom: 1px solid var(--line); }
th { background: #eef1f5; font-weight: 600; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.problem { color: var(--bad); }
.ok { color: var(--good); }
code { font-size: .88em; background: #eef1f5; padding: 0 .25em; border-radius: 3px; overflow-wrap: anywhere; }
.result, .state, .badge { display: inline-block; padding: 0 .45em; border-radius: 999px; font-size: .82rem; background: #eef1f5; }
.result.ok, .result.done, .state.bound { background: #dcfae6; color: var(--good); }
.result.failed, .result.error, .result.auth-failed, .result.circuit-open { background: #fee4e2; color: var(--bad); }
.result.quarantined, .result.pending, .result.running, .state.unbound { background: #fef0c7; color: var(--warn); }
.badge { background: #fef0c7; color: var(--warn); font-weight: 600; }
.op { display: inline-block; margin-right: .6em; white-space: nowrap; }
.group { display: inline-block; background: #eef1f5; border-radius: 4px; padding: 0 .3em; margin: 0 .2em .2em 0; }
ul.problems, ul.why, ul.ids, ul.actions { margin: 0; padding-left: 1.1rem; }
ul.problems li { color: var(--bad); }
.notice { background: #e0eaff; border: 1px solid #b2ccff; border-radius: 6px; padding: .6rem .8rem; }
button { font: inherit; padding: .4rem .9rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button.danger { background: var(--bad); border-color: var(--bad); }
button.link { background: none; border: 0; color: #dfe6f5; padding: 0; }
form.inline { display: inline; }
form.search { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: 0 0 1rem; }
form.search label { flex-basis: 100%; color: var(--muted); }
input, select { font: inherit; padding: .4rem .5rem; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
form.search input[type=search] { flex: 1; min-width: 12rem; }
form.login { display: grid; gap: .5rem; max-width: 26rem; }
progress { width: 100%; height: 1rem; }
pre.explain { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8rem; overflow-x: auto; white-space: pre-wrap; }
.filters a[aria-current="page"] { font-weight: 600; }
@media (max-width: 40rem) {
  main { padding: .6rem; }
  dl { grid-template-columns: 1fr; }
  dt { margin-top: .35rem; }
}
`;

export const SCRIPT = `'use strict';
(function () {
  // the run in flight, from /ui/events; when it ends the page is read again to show it in the table
  var live = document.getElementById('live');
  if (live && 'EventSource' in window) {
    var text = document.getElementById('live-text');
    var bar = document.getElementById('live-bar');
    var running = live.getAttribute('data-running') === 'true';
    var events = new EventSource('/ui/events');
    events.addEventListener('live', function (e) {
      var d = JSON.parse(e.data);
      text.textContent = d.text;
      if (typeof d.total === 'number') {
        bar.max = Math.max(d.total, 1);
        bar.value = d.done;
        bar.hidden = false;
      } else bar.hidden = true;
      live.setAttribute('data-running', d.running ? 'true' : 'false');
      if (running && !d.running) {
        events.close();
        window.location.reload();
      }
      running = d.running;
    });
  }
  // the conversation list narrows as one types; the form still searches on the server without script
  var filter = document.getElementById('filter');
  var rows = document.querySelectorAll('tr[data-search]');
  if (filter && rows.length > 0) {
    filter.addEventListener('input', function () {
      var q = filter.value.trim().toLowerCase();
      rows.forEach(function (r) {
        r.hidden = q !== '' && r.getAttribute('data-search').indexOf(q) < 0;
      });
    });
  }
})();
`;
