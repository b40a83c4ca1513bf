import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startHarness, type Harness } from '../helpers/harness.js';
import { call, signIn, startDaemon, SYNC_TOKEN } from '../helpers/status-page.js';

describe('status page: the problems of a conversation', () => {
  let h: Harness | undefined;
  let d: Awaited<ReturnType<typeof startDaemon>> | undefined;
  afterEach(async () => {
    d?.child.kill('SIGTERM');
    if (d) await d.done;
    await h?.close();
    d = h = undefined;
  });

  it('still shows a conversation over the backend’s size limit after a run that found nothing changed', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 12, users: 12 });
    const backend = (parse(readFileSync(h.configFile, 'utf8')) as { backend: Record<string, unknown> }).backend;
    // Wire's maxConvSize below the group's size: the plan blocks the rest ("capacity"), every run
    d = await startDaemon(h, { backend: { ...backend, maxConversationSize: 6 } });
    const cookie = await signIn(d.url);
    const before = await call(`${d.url}/ui/conversations?q=eng`, { cookie });
    expect(before.text).toMatch(/over the backend&#39;s limit of 6 members/);

    // the next run: no source changed, nothing read or planned
    const again = await call(`${d.url}/sync?wait=true`, { method: 'POST', token: SYNC_TOKEN });
    expect(again.status).toBe(200);
    expect(JSON.parse(again.text)).toMatchObject({ plan: { warnings: [expect.stringMatching(/^unchanged since run 1/)] } });

    // the conversation is as far over the limit as before: the page must still say so
    const after = await call(`${d.url}/ui/conversations?q=eng`, { cookie });
    expect(after.text).toMatch(/over the backend&#39;s limit of 6 members/);
  }, 60_000);

  it('still shows a conversation over the size limit after a run that planned only another group, which changed', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 10, users: 20 });
    const backend = (parse(readFileSync(h.configFile, 'utf8')) as { backend: Record<string, unknown> }).backend;
    d = await startDaemon(h, { backend: { ...backend, maxConversationSize: 6 } });
    const cookie = await signIn(d.url);
    const overLimit = (text: string) => (text.match(/over the backend&#39;s limit of 6 members/g) ?? []).length;
    expect(overLimit((await call(`${d.url}/ui/conversations`, { cookie })).text)).toBe(2);

    // one member leaves the second group: the next run plans that group's conversation only
    const ops = h.directory.groups[1]!;
    h.scim.removeMember(ops.id, ops.members[0]!.value);
    const partial = await call(`${d.url}/sync?wait=true`, { method: 'POST', token: SYNC_TOKEN });
    const plan = (JSON.parse(partial.text) as { plan: { blocked: { op: { key: string } }[] } }).plan;
    expect(plan.blocked.map((b) => b.op.key)).toEqual([`group:corp:${ops.id}`]);

    // the first conversation is still over the limit
    expect(overLimit((await call(`${d.url}/ui/conversations`, { cookie })).text)).toBe(2);
  }, 60_000);
});
