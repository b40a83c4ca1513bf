import { pino } from 'pino';
import { afterEach } from 'vitest';
import type { ScimSourceConfig } from '../../src/config/schema.js';
import { sampleDirectory } from '../../src/sandbox/directory.js';
import { ScimSandbox } from '../../src/sandbox/scim/server.js';
import { scimSource } from '../../src/sources/scim/index.js';
import { Store } from '../../src/store/store.js';
import { parsedSource } from './source-config.js';

export const MINUTE = 60_000;

/**
 * A SCIM sandbox (six groups of three, pages of four) on a clock the test moves (`clock.t`), an hour
 * after its resources were made, and a source reading it into a store in memory
 */
export async function scimOnClock(settings: Record<string, unknown> = {}) {
  const clock = { t: Date.parse('2026-03-02T10:00:00.000Z') };
  const directory = sampleDirectory({ groups: 6, membersPerGroup: 3, users: 12, seed: 3 });
  const sandbox = await ScimSandbox.start({ directory, auth: { type: 'bearer', token: 't0ken' }, maxResults: 4, clock: () => clock.t });
  clock.t += 60 * MINUTE;
  const store = Store.open(':memory:');
  const cfg = parsedSource<ScimSourceConfig>({
    name: 'corp',
    type: 'scim',
    baseUrl: sandbox.baseUrl,
    auth: { type: 'bearer', token: 't0ken' },
    timeoutMs: 2000,
    maxAttempts: 1,
    ...settings,
  });
  const source = scimSource.create(cfg, { logger: pino({ level: 'silent' }), store, now: () => clock.t });
  return {
    clock,
    sandbox,
    store,
    fetch: () => source.fetch(new AbortController().signal),
    close: async () => {
      await sandbox.stop();
      store.close();
    },
  };
}

/** `scimOnClock` for the tests of one file, each sandbox stopped and store closed after its test */
export function scimOnClockPerTest(): typeof scimOnClock {
  const opened: Awaited<ReturnType<typeof scimOnClock>>[] = [];
  afterEach(async () => {
    for (const o of opened.splice(0)) await o.close();
  });
  return async (settings) => {
    const o = await scimOnClock(settings);
    opened.push(o);
    return o;
  };
}
