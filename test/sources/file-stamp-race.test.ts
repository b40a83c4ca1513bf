import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync as readNow, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';

// the file system as the stamp sees it: a hook run inside the next read, and the statfs type told
const fsHooks: { duringRead?: () => void; statfsType?: number } = {};
vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  const readFileSync = ((...args: Parameters<typeof fs.readFileSync>) => {
    const hook = fsHooks.duringRead;
    fsHooks.duringRead = undefined;
    hook?.();
    return fs.readFileSync(...args);
  }) as typeof fs.readFileSync;
  const readSync = ((...args: Parameters<typeof fs.readSync>) => {
    const hook = fsHooks.duringRead;
    fsHooks.duringRead = undefined;
    hook?.();
    return fs.readSync(...args);
  }) as typeof fs.readSync;
  const statfsSync = ((...args: Parameters<typeof fs.statfsSync>) => {
    const real = fs.statfsSync(...args);
    return fsHooks.statfsType === undefined ? real : { ...real, type: fsHooks.statfsType };
  }) as typeof fs.statfsSync;
  return { ...fs, default: { ...fs, readFileSync, readSync, statfsSync }, readFileSync, readSync, statfsSync };
});
const { fingerprintOf, readStamped, checkFiles } = await import('../../src/sources/file/fingerprint.js');

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  delete fsHooks.statfsType;
});

/** two releases of a directory file behind a `current` symlink, as a deploy or a ConfigMap swaps them; both last changed over 2 s ago */
async function releases() {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-stamp-race-'));
  dirs.push(dir);
  for (const [release, id] of [
    ['r1', 'x1'],
    ['r2', 'x2'],
  ] as const) {
    mkdirSync(join(dir, release));
    writeFileSync(join(dir, release, 'users.yaml'), `users:\n  - { id: a, externalId: ${id} }\n`);
    utimesSync(join(dir, release, 'users.yaml'), 1_700_000_000, 1_700_000_000);
  }
  const swap = (to: string) => {
    symlinkSync(to, join(dir, 'current.tmp'));
    renameSync(join(dir, 'current.tmp'), join(dir, 'current'));
  };
  swap('r1');
  await sleep(2_100);
  return { file: join(dir, 'current', 'users.yaml'), swap };
}

describe('file stamps against a changing file system', () => {
  it('stamp the file they read when a symlink is swapped during the read, so a later swap is seen', async () => {
    const { file, swap } = await releases();
    fsHooks.duringRead = () => swap('r2');
    const read = readStamped(file);
    // the bytes and the stamp are of one open file, the one the path named when it was opened
    expect(read.bytes.toString()).toContain('x1');
    const stamp = fingerprintOf([read]);
    expect(readNow(file, 'utf8')).toContain('x2');
    expect(checkFiles(file, stamp).same).toBe(false);
    swap('r1');
    expect(checkFiles(file, stamp).same).toBe(true);
  });

  it('read into the reusable buffer hold every byte of the file, of another file after it, and of a file that grew past the buffer during the read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'convsync-stamp-reuse-'));
    dirs.push(dir);
    const [small, large] = [join(dir, 'small.json'), join(dir, 'large.json')];
    writeFileSync(small, `{"users":[${'{"id":"s"},'.repeat(10)}{"id":"t"}]}`);
    writeFileSync(large, `{"users":[${'{"id":"u"},'.repeat(50_000)}`);
    const same = (file: string) => {
      const read = readStamped(file, { reuse: true });
      const whole = readNow(file);
      expect(read.bytes.equals(whole), file).toBe(true);
      expect(read.stamp.sha256).toBe(createHash('sha256').update(whole).digest('hex'));
      return read;
    };
    same(small);
    same(large);
    same(small);
    // grown by far more than the room the buffer keeps past the size stamped, once the read began
    fsHooks.duringRead = () => appendFileSync(large, `${'{"id":"v"},'.repeat(100_000)}{"id":"w"}]}`);
    const grown = same(large);
    expect(grown.stamp.size).toBeLessThan(grown.bytes.length);
    expect(checkFiles(large, fingerprintOf([grown])).same).toBe(false);
  });

  it('hash the file on a file system whose change time the kernel may not set (NFS, FUSE)', async () => {
    const { file } = await releases();
    const stamp = JSON.parse(fingerprintOf([readStamped(file)])) as Record<string, unknown>[];
    const wrongHash = JSON.stringify([{ ...stamp[0], sha256: '0'.repeat(64) }]);
    // on a local file system the inode and change time are trusted: the wrong hash is never looked at
    expect(checkFiles(file, wrongHash).same).toBe(true);
    fsHooks.statfsType = 0x6969; // NFS
    expect(checkFiles(file, wrongHash).same).toBe(false);
    fsHooks.statfsType = 0x65735546; // FUSE
    expect(checkFiles(file, wrongHash).same).toBe(false);
  });
});
