import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';
import { call, signIn, startDaemon } from '../helpers/status-page.js';

describe('status page: a removal still held for an earlier run', () => {
  let h: Harness | undefined;
  let d: Awaited<ReturnType<typeof startDaemon>> | undefined;
  afterEach(async () => {
    d?.child.kill('SIGTERM');
    if (d) await d.done;
    await h?.close();
    d = h = undefined;
  });

  it('is shown on the conversation while it waits for the run that held it', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 4 });
    expect((await h.cli(['sync'])).code).toBe(0);
    h.writeConfig({ guards: { maxRemovalsPerRun: 1 } });
    const g = h.directory.groups[0]!;
    for (const m of g.members.slice(0, 2)) h.scim.removeMember(g.id, m.value);
    // run 2 holds the two removals back
    expect((await h.cli(['sync'])).code).toBe(3);
    // the guard loosened: the daemon's start-up run still holds them, for run 2
    d = await startDaemon(h);
    const cookie = await signIn(d.url);
    expect((await call(`${d.url}/ui/held`, { cookie })).text).toContain('Approve run #2');
    const page = await call(`${d.url}/ui/conversations`, { cookie });
    expect(page.text).toMatch(/remove: held back by guards/);
  }, 60_000);
});
