import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ScimSourceConfig } from '../../src/config/schema.js';
import { sampleDirectory } from '../../src/sandbox/directory.js';
import { ScimSandbox } from '../../src/sandbox/scim/server.js';
import { scimSource } from '../../src/sources/scim/index.js';
import { Store } from '../../src/store/store.js';
import { startProxy } from '../helpers/gateway-proxy.js';
import { cleanupAfterEach } from '../helpers/temp-db.js';
import { parsedSource } from '../helpers/source-config.js';

/**
 * Answers a provider may give that the SCIM sandbox, faithful to the RFC, does not: rewritten by a
 * proxy in front of it. None of them may make a read take a group or a member as gone.
 */
const logger = pino({ level: 'silent' });
const cleanup = cleanupAfterEach();

const config = (baseUrl: string, extra: Record<string, unknown> = {}) =>
  parsedSource<ScimSourceConfig>({ name: 'corp', type: 'scim', baseUrl, auth: { type: 'bearer', token: 't0ken' }, timeoutMs: 2000, maxAttempts: 1, ...extra });

/** the sandbox behind a proxy that passes `rewrite` every JSON answer to a GET, and answers with `fail`'s status where it gives one */
async function behindProxy(
  opts: Parameters<typeof ScimSandbox.start>[0],
  rewrite: (path: string, body: any) => void,
  fail: (path: string) => number | undefined = () => undefined,
) {
  const sandbox = await ScimSandbox.start(opts);
  const proxy = await startProxy(sandbox.url, (method, path) =>
    fail(path) !== undefined
      ? { kind: 'fail', status: fail(path)! }
      : method === 'GET'
        ? {
            kind: 'mangle',
            body: (text) => {
              const body = JSON.parse(text);
              rewrite(path, body);
              return JSON.stringify(body);
            },
          }
        : { kind: 'pass' },
  );
  const store = Store.open(':memory:');
  cleanup.push(
    () => store.close(),
    () => void proxy.stop(),
    () => void sandbox.stop(),
  );
  return { sandbox, store, baseUrl: `${proxy.url}/scim/v2` };
}

describe('SCIM pull, answers outside what the sandbox gives', () => {
  it('fails an incremental read whose listing of ids holds an entry without an id, rather than take a group as deleted', async () => {
    let now = Date.parse('2026-03-02T10:00:00.000Z');
    let strip = false;
    const directory = sampleDirectory({ groups: 6, membersPerGroup: 3, users: 12, seed: 3 });
    const t = await behindProxy({ directory, auth: { type: 'bearer', token: 't0ken' }, maxResults: 4, clock: () => now }, (path, body) => {
      // the listing of ids alone: its resources carry no displayName
      if (!strip || path !== '/scim/v2/Groups' || !Array.isArray(body.Resources)) return;
      for (const r of body.Resources) if (r.id === 'g-00001' && r.displayName === undefined) delete r.id;
    });
    now += 3_600_000;
    const source = scimSource.create(config(t.baseUrl), { logger, store: t.store, now: () => now });
    const first = await source.fetch(new AbortController().signal);
    expect(first.groups.map((g) => g.id)).toContain('g-00001');
    now += 60_000;
    // a real deletion moves the total: the listing of ids says which group went
    t.sandbox.deleteGroup('g-00006');
    strip = true;
    const state = t.store.reads.state('corp');
    await expect(source.fetch(new AbortController().signal)).rejects.toThrow(
      /incremental read failed: the listing of \/Groups ids holds an entry without an id; nothing is taken as changed or gone/,
    );
    expect(t.store.reads.state('corp')).toEqual(state);
    strip = false;
    const next = await source.fetch(new AbortController().signal);
    expect(next.groups.map((g) => g.id)).toEqual(['g-00001', 'g-00002', 'g-00003', 'g-00004', 'g-00005']);
  });

  it('takes a group as unknown when a group nested in it comes without its members attribute', async () => {
    const directory = sampleDirectory({ groups: 3, membersPerGroup: 2, seed: 3 });
    directory.groups[2]!.displayName = 'inner';
    // some providers leave members out of a group (INDIGO IAM, for large groups): that is no empty group
    const t = await behindProxy({ directory, auth: { type: 'bearer', token: 't0ken' } }, (path, body) => {
      if (path === '/scim/v2/Groups/g-00003') delete body.members;
    });
    t.sandbox.addMember('g-00001', 'g-00003', 'Group');
    const cfg = config(t.baseUrl, { groups: { filter: 'displayName sw "team-"' }, fullReadEvery: '0s' });
    const res = await scimSource.create(cfg, { logger, store: t.store }).fetch(new AbortController().signal);
    expect(res.groups.find((g) => g.id === 'g-00001')).toMatchObject({
      complete: false,
      unknownReason: 'nested group g-00003 came without its members attribute',
    });
    expect(res.groups.find((g) => g.id === 'g-00002')).toMatchObject({ complete: true });
    // listed itself, it is unknown too, and so is the group holding it
    const all = await scimSource.create(config(t.baseUrl, { fullReadEvery: '0s' }), { logger, store: t.store }).fetch(new AbortController().signal);
    expect(all.groups.map((g) => [g.id, g.complete, g.unknownReason])).toEqual([
      ['g-00001', false, 'nested group g-00003 came without its members attribute'],
      ['g-00002', true, undefined],
      ['g-00003', false, 'its answer came without its members attribute'],
    ]);
  });

  it('expands an untyped member that no user has as a group, also one the group filter leaves out of the listing', async () => {
    let untyped = false;
    const directory = sampleDirectory({ groups: 3, membersPerGroup: 2, seed: 3 });
    directory.groups[2]!.displayName = 'inner';
    // a provider may refuse an id of no group with 400, or fail to answer at all
    const refusals: Record<string, number> = { '/scim/v2/Groups/refused': 400, '/scim/v2/Groups/unanswered': 503 };
    const t = await behindProxy(
      { directory, auth: { type: 'bearer', token: 't0ken' } },
      (_path, body) => {
        // `type` is optional in a member (RFC 7643 §4.2)
        if (untyped && Array.isArray(body.members)) for (const m of body.members) delete m.type;
      },
      (path) => refusals[path],
    );
    t.sandbox.addMember('g-00001', 'g-00003', 'Group');
    const cfg = config(t.baseUrl, { groups: { filter: 'displayName sw "team-"' }, fullReadEvery: '0s' });
    const read = () => scimSource.create(cfg, { logger, store: t.store }).fetch(new AbortController().signal);
    const team = async () => (await read()).groups.find((g) => g.id === 'g-00001')!;
    const typed = await team();
    expect(typed.members).toHaveLength(4);
    untyped = true;
    const members = (await team()).members;
    expect(members.map((u) => u.id).sort()).toEqual(typed.members.map((u) => u.id).sort());
    // one that is neither a user nor a group is left out, with the warning, also when /Groups refuses its id
    t.sandbox.addMember('g-00001', 'nobody', 'User');
    t.sandbox.addMember('g-00001', 'refused', 'User');
    const res = await read();
    expect(res.groups.find((g) => g.id === 'g-00001')).toMatchObject({ complete: true, members: expect.arrayContaining(members) });
    expect(res.warnings.join('\n')).toMatch(/lists 2 member\(s\) that the provider does not know \(nobody, refused\): left out/);
    // one /Groups does not answer for is unknown: it may be a group
    t.sandbox.addMember('g-00001', 'unanswered', 'User');
    expect((await read()).groups.find((g) => g.id === 'g-00001')).toMatchObject({
      complete: false,
      unknownReason: 'nested group unanswered could not be read',
    });
  });
});
