import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { sampleDirectory, type SampleDirectory } from '../../src/sandbox/directory.js';
import { ScimSandbox } from '../../src/sandbox/scim/server.js';
import { MixinSandbox, type MixinFaults } from '../../src/sandbox/mixin/server.js';
import { ProtocolSandbox, type ProtocolFaults } from '../../src/sandbox/protocol/server.js';
import { WireSandbox, type WireSandboxOptions } from '../../src/sandbox/wire/server.js';
import { assertFreshDist } from './fresh-dist.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
export const BOT_EMAIL = 'sync-bot@example.com';
const BOT_PASSWORD = 'harness-password';
const SCIM_TOKEN = 'harness-scim-token';

export interface Harness {
  dir: string;
  backend: 'wire' | 'protocol' | 'mixin';
  wire: WireSandbox;
  /** the Protocol sandbox, when `backend: 'protocol'` */
  protocol?: ProtocolSandbox;
  /** the Mixin sandbox and the bot's user id, when `backend: 'mixin'` */
  mixin?: MixinSandbox;
  mixinBot?: string;
  /** the chat backend's user id of a directory user (Wire user id, or Protocol contact id) */
  chatId(scimUserId: string): string;
  /** conversation name → sorted member ids, as the chat backend holds them (the daemon left out) */
  chatState(): Map<string, string[]>;
  /** successful write calls on the chat backend */
  chatWrites(): { method: string; path: string; at: number }[];
  chatViolations(): string[];
  scim: ScimSandbox;
  directory: SampleDirectory;
  botId: string;
  configFile: string;
  /** Wire user id of a directory user */
  wireId(scimUserId: string): string;
  /** rewrite the config file with overrides merged in */
  writeConfig(overrides?: Record<string, unknown>): void;
  cli(args: string[], env?: Record<string, string>): Promise<CliResult>;
  close(): Promise<void>;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface HarnessOptions {
  backend?: 'wire' | 'protocol' | 'mixin';
  protocolFaults?: Partial<ProtocolFaults>;
  /** Protocol through OAuth2 client credentials with tokens of this lifetime, instead of the static token */
  protocolOAuthSeconds?: number;
  mixinFaults?: Partial<MixinFaults>;
  groups?: number;
  membersPerGroup?: number;
  users?: number;
  wire?: WireSandboxOptions;
  scimMaxResults?: number;
  config?: Record<string, unknown>;
  /** Wire in channel mode: the team's channels and MLS on, the bot a team admin */
  wireChannels?: boolean;
}

/** Both sandboxes on loopback, the directory's users in the Wire team, and a config file pointing at them. */
export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-test-'));
  const directory = sampleDirectory({
    groups: opts.groups ?? 3,
    membersPerGroup: opts.membersPerGroup ?? 4,
    ...(opts.users !== undefined ? { users: opts.users } : {}),
    seed: 11,
  });
  const wireOpts = opts.wireChannels ? { ...opts.wire, features: { channels: true, mls: true, ...opts.wire?.features } } : (opts.wire ?? {});
  const wire = await WireSandbox.start(wireOpts);
  const bot = wire.addUser({ email: BOT_EMAIL, password: BOT_PASSWORD, name: 'bot', ...(opts.wireChannels ? { role: 'admin' as const } : {}) });
  for (const u of directory.users) wire.addUser({ id: u.externalId, name: u.displayName, handle: u.userName });
  const scim = await ScimSandbox.start({
    directory,
    auth: { type: 'bearer', token: SCIM_TOKEN },
    ...(opts.scimMaxResults ? { maxResults: opts.scimMaxResults } : {}),
  });
  writeFileSync(join(dir, 'scim-token'), `${SCIM_TOKEN}\n`);
  writeFileSync(join(dir, 'wire-password'), `${BOT_PASSWORD}\n`);
  writeFileSync(join(dir, 'protocol-token'), 'harness-protocol-token\n');
  const configFile = join(dir, 'convsync.yaml');
  const byScimId = new Map(directory.users.map((u) => [u.id, u.externalId]));
  const backend = opts.backend ?? 'wire';
  let protocol: ProtocolSandbox | undefined;
  const contactOf = new Map<string, string>();
  if (backend === 'protocol') {
    protocol = await ProtocolSandbox.start({
      token: 'harness-protocol-token',
      faults: opts.protocolFaults ?? {},
      ...(opts.protocolOAuthSeconds
        ? { oauth: { clientId: 'convsync', clientSecret: 'harness-protocol-token', lifetimeSeconds: opts.protocolOAuthSeconds } }
        : {}),
    });
    for (const u of directory.users) contactOf.set(u.id, protocol.addContact({ username: u.userName, phone_number: '+4930000000' }).id);
  }
  let mixin: MixinSandbox | undefined;
  let mixinBot: string | undefined;
  if (backend === 'mixin') {
    mixin = await MixinSandbox.start({ faults: opts.mixinFaults ?? {} });
    const bot = mixin.createBot();
    mixinBot = bot.userId;
    writeFileSync(join(dir, 'mixin-keystore.json'), JSON.stringify(bot.keystore));
    for (const u of directory.users) mixin.addUser({ user_id: u.externalId, full_name: u.displayName });
  }
  const backendConfig =
    backend === 'wire'
      ? {
          backend: {
            type: 'wire',
            baseUrl: wire.url,
            email: BOT_EMAIL,
            passwordFile: './wire-password',
            teamId: wire.teamId,
            ...(opts.wireChannels ? { conversationType: 'channel' } : {}),
          },
          identity: { from: 'externalId' },
        }
      : backend === 'mixin'
        ? { backend: { type: 'mixin', baseUrl: mixin!.url, keystoreFile: './mixin-keystore.json' }, identity: { from: 'externalId' } }
        : {
            backend: {
              type: 'protocol',
              baseUrl: protocol!.baseUrl,
              auth: opts.protocolOAuthSeconds
                ? { type: 'oauth2', tokenUrl: `${protocol!.url}/oauth/token`, clientId: 'convsync', clientSecretFile: './protocol-token' }
                : { type: 'bearer', tokenFile: './protocol-token' },
            },
            identity: { from: 'userName', lookup: 'handle' },
          };

  const writeConfig = (overrides: Record<string, unknown> = {}) => {
    const base: Record<string, unknown> = {
      store: { path: './convsync.db' },
      sources: [{ name: 'corp', type: 'scim', baseUrl: scim.baseUrl, auth: { type: 'bearer', tokenFile: './scim-token' } }],
      ...backendConfig,
      mappings: [{ match: { displayName: '^team-(.+)$' }, name: 'Team {1}', remove: 'managed' }],
      policy: 'sync',
      guards: { maxRemovalsPerRun: 1000, maxRemovalRatio: 0.5, removalRatioMinMembers: 10, maxUnbindsPerRun: 1000, protect: [] },
      // the sandboxes make a change before they answer: a lost create not found is not made
      reconcile: { baseDelayMs: 20, maxDelayMs: 2000, ratePerSecond: 1000, burst: 50, lostAnswerSettleMs: 0 },
      log: { level: 'warn' },
      ...opts.config,
      ...overrides,
    };
    writeFileSync(configFile, stringify(base));
  };
  writeConfig();

  const chatState = (): Map<string, string[]> => {
    if (backend === 'wire') return wireState(wire, bot.id);
    if (backend === 'mixin') {
      const out = new Map<string, string[]>();
      for (const c of mixin!.conversations.values()) {
        if (out.has(c.name)) throw new Error(`two conversations named ${c.name}`);
        out.set(c.name, [...c.participants.keys()].filter((u) => u !== mixinBot).sort());
      }
      return out;
    }
    const out = new Map<string, string[]>();
    for (const g of protocol!.groups.values()) {
      if (g.archived_at !== null) continue;
      if (out.has(g.name)) throw new Error(`two groups named ${g.name}`);
      out.set(g.name, [...g.contacts].sort());
    }
    return out;
  };
  return {
    dir,
    backend,
    wire,
    ...(protocol ? { protocol } : {}),
    ...(mixin ? { mixin, mixinBot: mixinBot! } : {}),
    chatId: (id) => (backend === 'protocol' ? contactOf.get(id)! : byScimId.get(id)!),
    chatState,
    chatWrites: () =>
      backend === 'wire'
        ? wire.writeCalls().filter((c) => c.status < 400)
        : backend === 'mixin'
          ? mixin!.writeCalls()
          : protocol!.writeCalls().filter((c) => c.status < 400),
    chatViolations: () => (backend === 'wire' ? wire.violations : backend === 'mixin' ? mixin!.violations : protocol!.violations),
    scim,
    directory,
    botId: bot.id,
    configFile,
    wireId: (id) => byScimId.get(id)!,
    writeConfig,
    cli: (args, env = {}) => runCli([...args, '--config', configFile], env),
    async close() {
      await stopRunning();
      await scim.stop();
      await wire.stop();
      await protocol?.stop();
      await mixin?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return startCli(args, env).done;
}

/**
 * CLI processes still running: stopped when the test process ends, so that a test that failed
 * before stopping its daemon leaves no daemon behind to slow every later test
 */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** CLI processes a test left running (it failed before stopping its daemon): killed before the test's servers stop and its folder goes */
async function stopRunning(): Promise<void> {
  const left = [...running];
  await Promise.all(left.map((child) => new Promise((resolve) => child.once('exit', resolve).kill('SIGKILL'))));
}

/** the CLI as a child process that a test may kill */
export function startCli(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<CliResult> } {
  assertFreshDist();
  const child = spawn(process.execPath, [CLI, ...args], {
    // TMPDIR: the run's temp folder (helpers/tests-tmpdir.ts), where SQLite puts its temp files too
    env: { PATH: process.env.PATH ?? '', CONVSYNC_LOG_PRETTY: 'false', ...(process.env.TMPDIR && { TMPDIR: process.env.TMPDIR }), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.on('exit', () => running.delete(child));
  const done = new Promise<CliResult>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done };
}

/** conversation name → sorted member ids (the daemon left out), as the Wire sandbox holds them */
export function wireState(wire: WireSandbox, botId: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const c of wire.conversations.values()) {
    if (!c.members.has(botId)) continue;
    const key = c.name ?? '';
    if (out.has(key)) throw new Error(`two conversations named ${key}`);
    out.set(key, [...c.members.keys()].filter((m) => m !== botId).sort());
  }
  return out;
}

/** conversation name → sorted Wire ids, as the SCIM directory wants them (mapping team-x → Team x) */
export function desiredState(scim: ScimSandbox, wireId: (id: string) => string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const g of scim.groups.values()) {
    const m = /^team-(.+)$/.exec(g.displayName);
    if (!m) continue;
    const members = g.members
      .filter((x) => scim.users.get(x.value)?.active)
      .map((x) => wireId(x.value))
      .sort();
    out.set(`Team ${m[1]}`, [...new Set(members)]);
  }
  return out;
}

/** polls `check` every 20 ms until it holds, or fails after `ms` naming `what` */
export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not reached in time: ${what}`);
    await sleep(20);
  }
}

/** a port free on loopback now, for servers whose URL must be known before they start */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}
