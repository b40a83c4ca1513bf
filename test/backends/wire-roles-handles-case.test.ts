import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { wireBackend } from '../../src/backends/wire/index.js';
import type { WireBackendConfig } from '../../src/config/schema.js';
import { WireSandbox, type WireSandboxOptions } from '../../src/sandbox/wire/server.js';

const logger = pino({ level: 'silent' });
let wire: WireSandbox | undefined;
afterEach(async () => {
  await wire?.stop();
  wire = undefined;
});

async function setup(opts: WireSandboxOptions = {}, extra: Partial<WireBackendConfig> = {}) {
  wire = await WireSandbox.start(opts);
  const bot = wire.addUser({ email: 'bot@example.com', password: 'bot-password', role: extra.conversationType === 'channel' ? 'admin' : 'member' });
  const people = Array.from({ length: 8 }, (_, i) => wire!.addUser({ name: `p${i}`, handle: `p${i}` }).id);
  const config: WireBackendConfig = {
    type: 'wire',
    conversationType: 'group',
    baseUrl: wire.url,
    email: 'bot@example.com',
    password: 'bot-password',
    label: 'convsync',
    maxConversationSize: 500,
    apiVersions: { min: 6, max: 15 },
    ...extra,
  };
  return { wire, bot, people, backend: wireBackend.create(config, { logger }) };
}

describe('Wire adapter: channel roles and handles', () => {
  // suspect 2: PUT …/members at v13+ keeps the roles of those who stay (reference: "The given role applies only to newly added users")
  it('channel PUT …/members keeps a hand-made channel admin an admin, and the bot its wire_admin', async () => {
    const { wire: w, bot, people, backend } = await setup({ features: { channels: true, mls: true } }, { conversationType: 'channel' });
    const conv = await backend.create({ name: 'ch', members: [] });
    await backend.addMembers(conv.id, people.slice(0, 6));
    const fake = w.conversations.get(conv.id)!;
    fake.members.set(people[0]!, 'wire_admin'); // promoted by hand
    await backend.updateConversation!(conv.id, { add: [people[6]!], remove: [people[3]!, people[4]!, people[5]!] });
    expect(w.calls.some((c) => c.method === 'PUT' && c.path.endsWith('/members') && c.status === 200)).toBe(true);
    expect(fake.members.get(people[0]!)).toBe('wire_admin');
    expect(fake.members.get(bot.id)).toBe('wire_admin');
    expect(fake.members.get(people[6]!)).toBe('wire_member');
    expect(fake.members.has(people[3]!)).toBe(false);
  });

  // suspect 3: a directory value "@p1" (Wire shows handles with "@")
  it('looks up a handle written with a leading @ as the handle', async () => {
    const { people, backend } = await setup();
    const found = await backend.lookupHandles!(['@p1', 'p2']);
    expect(found.get('p2')).toBe(people[2]);
    expect(found.get('@p1')).toBe(people[1]);
  });
});

describe('Wire adapter: backend.teamId written in upper case', () => {
  // Wire parses a UUID in any case, and answers in lower case; the adapter compares its configured teamId as given
  it('a lost create is still found by list(), so it is adopted rather than made again', async () => {
    wire = await WireSandbox.start({});
    wire.addUser({ email: 'bot@example.com', password: 'bot-password' });
    const p = wire.addUser({ name: 'p' }).id;
    const backend = wireBackend.create(
      {
        type: 'wire',
        conversationType: 'group',
        baseUrl: wire.url,
        email: 'bot@example.com',
        password: 'bot-password',
        label: 'convsync',
        maxConversationSize: 500,
        apiVersions: { min: 6, max: 15 },
        teamId: wire.teamId.toUpperCase(),
      },
      { logger },
    );
    const made = await backend.create({ name: 'T', members: [p] });
    expect(wire.conversations.get(made.id)!.team).toBe(wire.teamId);
    expect((await backend.list()).map((c) => c.id)).toEqual([made.id]);
  });
});

describe('Wire sandbox: a name is 1..256 characters (Text.length: code points, not UTF-16 units)', () => {
  it('takes a name of 200 emoji, at create and rename', async () => {
    const { wire: w, people, backend } = await setup();
    const name = '😀'.repeat(200);
    const conv = await backend.create({ name, members: [people[0]!] });
    await backend.rename(conv.id, `${name}!`);
    expect(w.conversations.get(conv.id)!.name).toBe(`${name}!`);
    await expect(backend.rename(conv.id, '😀'.repeat(257))).rejects.toThrow(/256/);
  });
});

describe('Wire adapter: an API version turned off while the process runs', () => {
  it('chooses a version again, once, and the call goes through', async () => {
    const { wire: w, people, backend } = await setup();
    const conv = await backend.create({ name: 'before', members: people.slice(0, 2) });
    const chosen = Math.max(...w.calls.filter((c) => /^\/v\d+\//.test(c.path)).map((c) => Number(/^\/v(\d+)\//.exec(c.path)![1])));
    w.disableVersions(chosen);
    await backend.addMembers(conv.id, [people[2]!]);
    expect([...w.conversations.get(conv.id)!.members.keys()]).toContain(people[2]!);
    const after = w.calls.filter((c) => c.path.endsWith('/members') && c.method === 'POST').at(-1)!;
    expect(after.path.startsWith(`/v${chosen - 1}/`)).toBe(true);
    expect(w.calls.filter((c) => c.path === '/api-version')).toHaveLength(2);
  });
});
