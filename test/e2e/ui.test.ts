import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumHere, launchChromium, UI_OUTPUT } from '../helpers/browser.js';
import { freePort, startCli, startHarness, until, wireState, type Harness } from '../helpers/harness.js';

const UI_TOKEN = 'ui-token-for-the-browser-test';
const EVIL = '<script>alert(1)</script><img src=x onerror=alert(2)>';
/** CONVSYNC_UPDATE_DOCS=1 also writes the README's picture of the overview */
const README_PICTURE = new URL('../../docs/ui-overview.png', import.meta.url);

/** `convsync daemon` with the status page, on a known port, after its start-up run */
async function startDaemon(h: Harness) {
  const port = await freePort();
  writeFileSync(join(h.dir, 'ui-token'), `${UI_TOKEN}\n`);
  writeFileSync(join(h.dir, 'sync-token'), 'another-token\n');
  h.writeConfig({
    schedule: '0 0 1 1 *',
    server: { host: '127.0.0.1', port, uiTokenFile: './ui-token', syncTokenFile: './sync-token' },
    guards: { maxRemovalsPerRun: 5, maxRemovalRatio: 1, protect: [] },
    drift: { refreshEveryRuns: 1 },
    // slow enough that an apply of a few calls can be watched live
    reconcile: { baseDelayMs: 20, maxDelayMs: 2000, ratePerSecond: 6, burst: 1, lostAnswerSettleMs: 0 },
    log: { level: 'info' },
  });
  const proc = startCli(['daemon', '--config', h.configFile]);
  let stderr = '';
  proc.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await until(() => /"msg":"run finished"/.test(stderr), `the daemon's start-up run (${stderr})`, 20_000);
  return { ...proc, url: `http://127.0.0.1:${port}`, logs: () => stderr };
}

describe.skipIf(!chromiumHere())('the status page /ui, in Chromium', () => {
  let h: Harness;
  let d: Awaited<ReturnType<typeof startDaemon>>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const dialogs: string[] = [];
  const consoleErrors: string[] = [];
  const shot = (name: string) => page.screenshot({ path: join(UI_OUTPUT, `${name}.png`), fullPage: true });
  const eng = () => wireState(h.wire, h.botId).get('Team eng')!;
  /** the overview's button; `leave`: then away from the overview, whose script reloads it when the run ends */
  const syncNow = async (leave = true) => {
    await page.goto(`${d.url}/ui`);
    await page.getByRole('button', { name: 'Sync now' }).click();
    await page.waitForURL(`${d.url}/ui`);
    if (leave) await page.goto('about:blank');
  };

  beforeAll(async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 12, users: 14 });
    h.scim.addGroup({ id: 'g-evil', displayName: `team-${EVIL}`, members: [{ value: h.directory.users[13]!.id, type: 'User' }] });
    d = await startDaemon(h);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('console', (m) => void (m.type() === 'error' && consoleErrors.push(m.text())));
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
  });

  afterAll(async () => {
    await browser?.close();
    d?.child.kill('SIGTERM');
    if (d) expect((await d.done).code).toBe(0);
    await h?.close();
  });

  it('sends a browser without a session to the sign-in form, refuses a wrong token, and signs in with the right one', async () => {
    await page.goto(`${d.url}/ui/conversations`);
    expect(new URL(page.url()).pathname).toBe('/ui/login');
    await page.getByLabel(/Token/).fill('not-the-token');
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/ui/login') && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    expect(refused.status()).toBe(401);
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/not the one configured/);

    await page.getByLabel(/Token/).fill(UI_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${d.url}/ui/conversations`);
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'convsync_ui')).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/ui' });

    await page.goto(`${d.url}/ui`);
    const runs = page.locator('table.runs tbody tr');
    await expect(runs.first().textContent()).resolves.toMatch(/#1\s+daemon start/);
    expect(await page.locator('section', { hasText: 'Sources' }).textContent()).toMatch(/corp\s*scim/);
    expect(await page.locator('section', { hasText: 'Backend' }).textContent()).toMatch(/wire/);
    expect(await page.locator('section', { hasText: 'Guards in force' }).textContent()).toMatch(/Removals per run\s*5/);
    await shot('overview-start');
  });

  it('shows the apply of a run started from the page live, then the run in the table', async () => {
    for (let i = 0; i < 8; i++)
      h.scim.addGroup({ id: `g-new-${i}`, displayName: `team-new-${i}`, members: [{ value: h.directory.users[i]!.id, type: 'User' }] });
    await syncNow(false);
    await page.waitForFunction(() => /applying \d+\/8 calls/.test(document.getElementById('live-text')?.textContent ?? ''), undefined, {
      timeout: 20_000,
      polling: 50,
    });
    await shot('overview-live');
    // when the run ends the page reads itself again
    const row = page.locator('table.runs tbody tr', { hasText: 'create 8' }).first();
    await row.waitFor({ timeout: 20_000 });
    expect(await row.textContent()).toMatch(/manual \(status page\)/);
    expect(await row.textContent()).toMatch(/\bok\b/);
  });

  it('shows a quarantined run with who would be removed, refuses an approval without the CSRF token, and approves with the button', async () => {
    const g = h.directory.groups[0]!;
    for (const m of g.members.slice(0, 6)) h.scim.removeMember(g.id, m.value);
    await syncNow();
    await until(
      async () => {
        await page.goto(`${d.url}/ui/held`);
        return (await page.locator('section.held').count()) > 0;
      },
      'the held-back run on the page',
      20_000,
    );
    const held = page.locator('section.held').first();
    const runId = Number(await held.getAttribute('data-run'));
    expect(await held.textContent()).toMatch(/6 removals held back in 1 conversation/);
    expect(await held.textContent()).toMatch(/guards tripped/);
    await held.locator('summary').first().click();
    for (const m of g.members.slice(0, 6)) expect(await held.textContent()).toContain(h.wireId(m.value));
    await shot('held');
    await page.goto(`${d.url}/ui/conversations?q=eng`);
    expect(await page.locator('table.conversations tbody tr').count()).toBe(1);
    expect(await page.locator('table.conversations tbody tr').textContent()).toMatch(/remove: held back by guards/);
    await page.goto(`${d.url}/ui/held`);

    // a POST without the session's CSRF token is refused, however it came
    const noToken = await page.request.post(`${d.url}/ui/held/${runId}/approve`, { form: {}, maxRedirects: 0 });
    expect(noToken.status()).toBe(403);
    const forged = await page.request.post(`${d.url}/ui/held/${runId}/approve`, { form: { _csrf: 'forged' }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    await sleep(300);
    expect(eng()).toHaveLength(12);

    await held.getByRole('button', { name: `Approve run #${runId}` }).click();
    await page.waitForURL(`${d.url}/ui/held`);
    await expect(page.getByRole('status').textContent()).resolves.toMatch(
      new RegExp(`Approve run #${runId}: 6 held-back removal\\(s\\) released, 0 no longer apply`),
    );
    expect(eng()).toHaveLength(6);
    expect(await page.locator('main').textContent()).toMatch(/Nothing is held back/);
    await shot('held-approved');
  });

  it('lists the conversations, escapes what the directory named, and shows one conversation’s history', async () => {
    await page.goto(`${d.url}/ui/conversations`);
    expect(await page.locator('table.conversations tbody tr').count()).toBe(10);
    // the name is shown as text: no element of it made it into the page
    await page.getByText(`Team ${EVIL}`).first().waitFor();
    expect(await page.locator('main script, main img').count()).toBe(0);
    expect(dialogs).toEqual([]);
    await page.getByLabel(/Search by name/).fill('eng');
    expect(await page.locator('table.conversations tbody tr:visible').count()).toBe(1);
    // approved: no longer a problem
    expect(await page.locator('table.conversations tbody tr:visible td').last().textContent()).toBe('none');
    await shot('conversations');

    await page.getByRole('link', { name: 'Team eng' }).click();
    const history = page.locator('table', { hasText: 'Why' }).first();
    expect(await history.locator('tr', { hasText: 'remove' }).count()).toBe(6);
    expect(await page.locator('dl').textContent()).toMatch(/Members known\s*6/);
    await shot('conversation');
  });

  it('shows drift found by a refresh, and explains a group and a person', async () => {
    const conv = [...h.wire.conversations.values()].find((c) => c.name === 'Team eng')!;
    const stranger = h.directory.users[12]!.externalId;
    conv.members.set(stranger, 'wire_member');
    conv.name = 'Renamed by hand';
    await syncNow();
    await until(
      async () => {
        await page.goto(`${d.url}/ui/drift`);
        return (await page.locator('main').textContent())!.includes(stranger);
      },
      'the drift on the page',
      20_000,
    );
    expect(await page.locator('tr', { hasText: stranger }).locator('td:nth-child(4)').textContent()).toBe('added by hand');
    // the row's What column; the conversation column names it as it is called now
    const renamed = page.locator('tr', { has: page.locator('td:nth-child(4)', { hasText: /^renamed by hand$/ }) });
    expect(await renamed.locator('td:nth-child(5)').textContent()).toBe('Renamed by hand');
    await shot('drift');

    await page.goto(`${d.url}/ui/explain`);
    await page.locator('select[name=kind]').selectOption('group');
    await page.locator('input[name=q]').fill('team-eng');
    await page.getByRole('button', { name: 'Explain' }).click();
    expect(await page.locator('pre.explain').textContent()).toMatch(/Group corp:g-00001 "team-eng" \(source corp\): 6 member\(s\)/);
    await page.locator('select[name=kind]').selectOption('user');
    await page.locator('input[name=q]').fill(h.directory.users[6]!.userName);
    await page.getByRole('button', { name: 'Explain' }).click();
    expect(await page.locator('pre.explain').textContent()).toMatch(/now: a member \(added by convsync\)/);
    await page.locator('input[name=q]').fill(h.directory.users[12]!.userName);
    await page.getByRole('button', { name: 'Explain' }).click();
    expect(await page.locator('main .problem').textContent()).toMatch(/No person matches ".+" in the sources/);
    await page.locator('input[name=q]').fill(h.directory.users[6]!.userName);
    await page.getByRole('button', { name: 'Explain' }).click();
    await shot('explain');
  });

  it('is readable on a phone, and the overview is pictured for the README', async () => {
    await page.goto(`${d.url}/ui`);
    await shot('overview');
    if (process.env.CONVSYNC_UPDATE_DOCS === '1') {
      mkdirSync(new URL('.', README_PICTURE), { recursive: true });
      copyFileSync(join(UI_OUTPUT, 'overview.png'), README_PICTURE);
    }
    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${d.url}/ui`);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await phone.screenshot({ path: join(UI_OUTPUT, 'overview-phone.png'), fullPage: true });
    await phone.close();
  });

  it('answers a client without a session 401 (or the form), and every page with a strict Content-Security-Policy', async () => {
    const get = await request(`${d.url}/ui`, { headers: { accept: 'text/html' } });
    expect(get.statusCode).toBe(303);
    expect(get.headers.location).toBe('/ui/login?next=%2Fui');
    expect(get.headers['content-security-policy']).toMatch(/default-src 'self'; script-src 'self'/);
    await get.body.dump();
    for (const [method, path] of [
      ['GET', '/ui/events'],
      ['POST', '/ui/sync'],
      ['POST', '/ui/held/1/approve'],
    ] as const) {
      const res = await request(`${d.url}${path}`, {
        method,
        headers: { accept: 'text/event-stream', 'content-type': 'application/x-www-form-urlencoded' },
        body: method === 'POST' ? '_csrf=x' : null,
      });
      expect(res.statusCode, `${method} ${path}`).toBe(401);
      await res.body.dump();
    }
    expect(d.logs()).not.toContain(UI_TOKEN);
    // the page's own script and stylesheet live within its policy
    expect(consoleErrors.filter((e) => /Content Security Policy/i.test(e))).toEqual([]);
  });

  it('stops taking sign-ins from a client after repeated wrong tokens', async () => {
    const stranger = await browser.newPage();
    await stranger.goto(`${d.url}/ui/login`);
    const statuses: number[] = [];
    for (let i = 0; i < 6 && !statuses.includes(429); i++) {
      await stranger.getByLabel(/Token/).fill(`guess-${i}`);
      const [res] = await Promise.all([
        stranger.waitForResponse((r) => r.url().endsWith('/ui/login') && r.request().method() === 'POST'),
        stranger.getByRole('button', { name: 'Sign in' }).click(),
      ]);
      statuses.push(res.status());
    }
    // the first test's wrong token counts too: four more, then refused
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
    await stranger.getByLabel(/Token/).fill(UI_TOKEN);
    const [blocked] = await Promise.all([
      stranger.waitForResponse((r) => r.url().endsWith('/ui/login') && r.request().method() === 'POST'),
      stranger.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    expect(blocked.status()).toBe(429);
    expect(blocked.headers()['retry-after']).toMatch(/^\d+$/);
    expect(await stranger.getByRole('alert').textContent()).toMatch(/Too many failed sign-ins/);
    await stranger.close();
  });
});
