import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log.js';
import { createApp } from '../main.js';
import { renderPlan } from '../plan/render.js';
import { runOnce } from '../reconcile/run.js';
import { sampleDirectory, type SampleDirectory } from './directory.js';
import { MixinSandbox } from './mixin/server.js';
import { ProtocolSandbox } from './protocol/server.js';
import { ScimSandbox } from './scim/server.js';
import { WireSandbox } from './wire/server.js';

const BOT = { email: 'sync-bot@example.com', password: 'sandbox-password' };

/**
 * `convsync sandbox`: a fake Wire backend and a fake SCIM directory on loopback, a first sync that
 * creates the conversations, then a directory change (a leaver, a rename, a new group) and a
 * second, small sync. Needs no account and no network.
 */
export async function runSandboxDemo(opts: { out: NodeJS.WritableStream; backend?: 'wire' | 'protocol' | 'mixin'; keep?: boolean }): Promise<number> {
  const say = (s = '') => opts.out.write(`${s}\n`);
  const kind = opts.backend ?? 'wire';
  const dir = mkdtempSync(join(tmpdir(), 'convsync-sandbox-'));
  const directory = sampleDirectory({ groups: 5, membersPerGroup: 6, users: 24, seed: 42 });
  const chat = await startChat(kind, directory);
  const scim = await ScimSandbox.start({ directory, auth: { type: 'bearer', token: 'sandbox-scim-token' } });

  writeFileSync(join(dir, 'scim-token'), 'sandbox-scim-token\n');
  writeFileSync(join(dir, 'chat-secret'), chat.secret ?? `${BOT.password}\n`);
  const configFile = join(dir, 'convsync.yaml');
  writeFileSync(
    configFile,
    stringify({
      store: { path: './convsync.db' },
      sources: [{ name: 'corp', type: 'scim', baseUrl: scim.baseUrl, auth: { type: 'bearer', tokenFile: './scim-token' } }],
      ...chat.config,
      mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}', remove: 'managed' }],
      policy: 'sync',
      guards: { maxRemovalsPerRun: 100, maxRemovalRatio: 0.2, protect: [] },
      log: { level: 'warn' },
    }),
  );
  const config = loadConfig({ file: configFile, env: {} });
  const app = await createApp(config, { logger: createLogger(config.log.level), writer: 'sandbox' });
  const showConversations = () => {
    for (const [name, people] of [...chat.conversations()].sort(([a], [b]) => a.localeCompare(b))) {
      say(`  ${name.padEnd(14)} ${people.length} members: ${people.join(', ')}`);
    }
  };
  try {
    say(
      `convsync sandbox — a fake ${{ wire: 'Wire backend', protocol: 'Protocol chat API', mixin: 'Mixin Messenger API' }[kind]} and a fake SCIM directory, both on loopback`,
    );
    say(`  ${chat.describe}`);
    say(`  SCIM:  ${scim.baseUrl} — ${directory.groups.length} groups, ${directory.users.length} users`);
    say(`  store: ${config.store.path}`);
    say();
    say('1. First sync: the plan, then applying it');
    say('─'.repeat(72));
    const first = await runOnce(app, { mode: 'sync' });
    say(renderPlan(first.plan));
    say(`Applied: ${first.result?.done ?? 0} backend call(s), ${first.result?.failed.length ?? 0} failed.`);
    say();
    say('Conversations on the chat backend now:');
    showConversations();

    say();
    say('2. The directory changes:');
    const eng = directory.groups[0]!;
    const leaver = directory.users.find((u) => u.id === eng.members[1]!.value)!;
    scim.removeMember(eng.id, leaver.id);
    say(`  - ${leaver.displayName} leaves ${eng.displayName}`);
    const renamed = directory.groups[1]!;
    scim.renameGroup(renamed.id, 'team-platform');
    say(`  - ${renamed.displayName} is renamed team-platform`);
    scim.addGroup({ id: 'g-new', displayName: 'team-research', members: directory.users.slice(18, 22).map((u) => ({ value: u.id, type: 'User' as const })) });
    say('  - a new group team-research appears with 4 members');
    say();
    say('3. Second sync: only the difference');
    say('─'.repeat(72));
    const writesBefore = chat.writes();
    const second = await runOnce(app, { mode: 'sync' });
    say(renderPlan(second.plan));
    say(`Applied: ${second.result?.done ?? 0} op(s) (${chat.writes() - writesBefore} write calls on the backend).`);
    say();
    say('Conversations on the chat backend now:');
    showConversations();

    say();
    say('4. Third sync with nothing changed');
    const writes = chat.writes();
    const third = await runOnce(app, { mode: 'sync' });
    say(`  plan: ${third.plan.ops.length} op(s); write calls made: ${chat.writes() - writes}`);
    say();
    say(`Done. Contract violations seen by the ${kind} sandbox: ${chat.violations()}.`);
    return first.exitCode || second.exitCode || third.exitCode;
  } finally {
    await app.close();
    await scim.stop();
    await chat.stop();
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}

interface DemoChat {
  config: Record<string, unknown>;
  /** what the chat-secret file holds (default: the bot's password) */
  secret?: string;
  describe: string;
  conversations(): Map<string, string[]>;
  writes(): number;
  violations(): number;
  stop(): Promise<void>;
}

/** the chat backend's sandbox, with the directory's users in it */
async function startChat(kind: 'wire' | 'protocol' | 'mixin', directory: SampleDirectory): Promise<DemoChat> {
  if (kind === 'mixin') {
    const m = await MixinSandbox.start();
    const bot = m.createBot();
    for (const u of directory.users) m.addUser({ user_id: u.externalId, full_name: u.displayName });
    const names = new Map(directory.users.map((u) => [u.externalId, u.displayName]));
    names.set(bot.userId, 'convsync bot');
    return {
      config: { backend: { type: 'mixin', baseUrl: m.url, keystoreFile: './chat-secret' }, identity: { from: 'externalId' } },
      secret: JSON.stringify(bot.keystore),
      describe: `Mixin: ${m.url} (bot ${bot.userId})`,
      conversations: () => new Map([...m.conversations.values()].map((c) => [c.name, [...c.participants.keys()].map((id) => names.get(id) ?? id).sort()])),
      writes: () => m.writeCalls().length,
      violations: () => m.violations.length,
      stop: () => m.stop(),
    };
  }
  if (kind === 'protocol') {
    const p = await ProtocolSandbox.start({ token: BOT.password });
    const names = new Map(directory.users.map((u) => [p.addContact({ username: u.userName, display_name: u.displayName }).id, u.displayName]));
    return {
      config: {
        backend: { type: 'protocol', baseUrl: p.baseUrl, auth: { type: 'bearer', tokenFile: './chat-secret' } },
        identity: { from: 'userName', lookup: 'handle' },
      },
      describe: `Protocol: ${p.baseUrl} (${directory.users.length} contacts)`,
      conversations: () =>
        new Map([...p.groups.values()].filter((g) => g.archived_at === null).map((g) => [g.name, g.contacts.map((id) => names.get(id) ?? id).sort()])),
      writes: () => p.writeCalls().length,
      violations: () => p.violations.length,
      stop: () => p.stop(),
    };
  }
  const wire = await WireSandbox.start({ domain: 'sandbox.wire.test' });
  const bot = wire.addUser({ email: BOT.email, password: BOT.password, name: 'convsync bot' });
  for (const u of directory.users) wire.addUser({ id: u.externalId, name: u.displayName, handle: u.userName.replace(/\W/g, '') });
  const names = new Map(directory.users.map((u) => [u.externalId, u.displayName]));
  names.set(bot.id, 'convsync bot');
  return {
    config: {
      backend: { type: 'wire', baseUrl: wire.url, email: BOT.email, passwordFile: './chat-secret', teamId: wire.teamId },
      identity: { from: 'externalId' },
    },
    describe: `Wire:  ${wire.url} (team ${wire.teamId})`,
    conversations: () => new Map([...wire.conversations.values()].map((c) => [c.name ?? '', [...c.members.keys()].map((id) => names.get(id) ?? id).sort()])),
    writes: () => wire.writeCalls().length,
    violations: () => wire.violations.length,
    stop: () => wire.stop(),
  };
}
