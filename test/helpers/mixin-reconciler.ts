import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { mixinBackend } from '../../src/backends/mixin/index.js';
import type { MixinBackendConfig } from '../../src/config/schema.js';
import { Reconciler, type ReconcilerOptions } from '../../src/reconcile/reconciler.js';
import type { MixinSandbox } from '../../src/sandbox/mixin/server.js';
import { Store } from '../../src/store/store.js';

/** a bot of this Mixin sandbox (its keystore written in `dir`), `users` people, and a reconciler of it over a store in memory */
export function mixinReconciler(sandbox: MixinSandbox, dir: string, users: number, options: Partial<ReconcilerOptions> = {}) {
  const logger = pino({ level: 'silent' });
  const bot = sandbox.createBot();
  const file = join(dir, `ks-${bot.userId}.json`);
  writeFileSync(file, JSON.stringify(bot.keystore));
  const people = Array.from({ length: users }, () => sandbox.addUser().user_id);
  const config: MixinBackendConfig = {
    type: 'mixin',
    baseUrl: sandbox.url,
    keystoreFile: file,
    maxMembers: 256,
    tokenLifetimeSeconds: 60,
    verifyUsers: true,
    timeoutMs: 5000,
  };
  const store = Store.open(':memory:');
  const reconciler = new Reconciler(store, mixinBackend.create(config, { logger }), {
    dryRun: false,
    ownerId: 'convsync',
    concurrency: 1,
    ratePerSecond: 1000,
    burst: 10,
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
    logger,
    ...options,
  });
  return { bot, people, store, reconciler };
}
