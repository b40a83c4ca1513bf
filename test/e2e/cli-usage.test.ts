import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startHarness, type Harness } from '../helpers/harness.js';

describe('the command line refuses what it cannot take (the real CLI)', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('a word where a flag was meant stops the command before it reads or writes anything', async () => {
    h = await startHarness({ groups: 2, membersPerGroup: 2 });
    const dry = await h.cli(['sync', 'dry-run']);
    expect(dry.code).toBe(1);
    expect(dry.stderr).toMatch(/^convsync sync takes no argument, not "dry-run" \(--dry-run\?\)/);
    expect(h.wire.writeCalls()).toEqual([]);
    const plan = await h.cli(['plan', 'out.json']);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(/^convsync plan takes no argument, not "out.json"\n/);
    expect((await h.cli(['approve', '1', '2'])).stderr).toMatch(/^convsync approve takes one argument, not "2"/);
    expect(h.wire.writeCalls()).toEqual([]);
  });

  it('an option the command does not take is refused, not ignored', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 1 });
    const daemon = await h.cli(['daemon', '--allow-removals']);
    expect(daemon.code).toBe(1);
    expect(daemon.stderr).toMatch(/^convsync daemon does not take --allow-removals \(while the daemon runs, `convsync sync --allow-removals`/);
    expect((await h.cli(['plan', '--dry-run', '--refresh'])).stderr).toMatch(/^convsync plan does not take --dry-run, --refresh\n/);
    expect((await h.cli(['sandbox', '--config', 'x.yaml'])).stderr).toMatch(/^convsync sandbox does not take --config\n/);
    // those it takes still run
    expect((await h.cli(['sync', '--dry-run', '--output', 'json'])).code).toBe(0);
    expect(h.wire.writeCalls()).toEqual([]);
  });

  it('`status` of a store that is not there says so, and makes none', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 1 });
    const res = await h.cli(['status', '--set', 'store.path=./mistyped/convsync.db']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^no store at .*mistyped\/convsync\.db \(store\.path\): convsync has not run with this configuration yet\n$/);
    expect(existsSync(join(h.dir, 'mistyped'))).toBe(false);
  });

  it('`apply` of a file that is no plan says where, never what it holds', async () => {
    h = await startHarness({ groups: 1, membersPerGroup: 1 });
    writeFileSync(join(h.dir, 'not-a-plan'), 'sk-LIVE-abcdef123456\n');
    const res = await h.cli(['apply', join(h.dir, 'not-a-plan')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/not a plan file: it is not valid JSON at line 1, column 1/);
    expect(res.stderr).not.toMatch(/sk-LIVE/);
  });

  it('answers --help with exit 0, and an unknown command or output format with exit 1', async () => {
    expect(await runCli(['--help'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^convsync — keeps chat conversations/) });
    expect(await runCli(['synk'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^unknown command "synk"/) });
    expect(await runCli(['status', '--output', 'xml'])).toMatchObject({ code: 1, stderr: '--output must be one of: text, json\n' });
  });
});
