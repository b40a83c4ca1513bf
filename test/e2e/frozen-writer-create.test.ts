import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, expect, it } from 'vitest';
import { startCli, startHarness, until, type Harness } from '../helpers/harness.js';

// a daemon frozen (SIGSTOP: a paused container, a VM migrated) while a create is journaled
// pending and waits to be sent (here: Wire's Retry-After; as often the rate limit's token bucket)
// loses its lease to another convsync, which resolves the pending create as not made and creates
// the conversation. When the frozen daemon resumes, it sends its create anyway: the lease is checked
// at each journal write, never right before the call. The README promises that such a process
// "makes no further call when it resumes".

let h: Harness;
afterEach(async () => {
  await h?.close();
});

it('a writer that lost its lease while frozen does not send the create it had journaled: no duplicate conversation', async () => {
  h = await startHarness({ groups: 1, membersPerGroup: 2 });
  writeFileSync(join(h.dir, 'sync-token'), 'tok\n');
  h.writeConfig({ schedule: '0 0 1 1 *', server: { host: '127.0.0.1', port: 0, syncTokenFile: './sync-token' }, log: { level: 'info' } });
  // the third counted request of the daemon's start-up run (login, self, create) is its create: 420, Retry-After 6 s
  h.wire.faults.throttleEvery = 3;
  h.wire.faults.retryAfterSeconds = 6;
  const a = startCli(['daemon', '--config', h.configFile]);
  let stderr = '';
  a.child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  try {
    await until(
      () => h.wire.calls.some((c) => c.method === 'POST' && /^\/v\d+\/conversations$/.test(c.path) && c.status === 420),
      'the create throttled',
      15_000,
    );
    // frozen while the create waits for its retry
    a.child.kill('SIGSTOP');
    h.wire.faults.throttleEvery = 0;
    expect(h.wire.conversations.size).toBe(0);
    // the lease lapses after 30 s without renewal: another convsync takes over and syncs
    await sleep(32_000);
    const b = await h.cli(['sync']);
    expect(b.code, b.stderr).toBe(0);
    expect(h.wire.conversations.size).toBe(1);
    // the frozen daemon resumes
    a.child.kill('SIGCONT');
    await sleep(4_000);
    const names = [...h.wire.conversations.values()].map((c) => c.name);
    expect(names).toEqual(['Team ' + h.directory.groups[0]!.displayName.replace(/^team-/, '')]);
  } finally {
    a.child.kill('SIGKILL');
    await a.done;
  }
}, 90_000);
