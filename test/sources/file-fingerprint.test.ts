import { mkdtempSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { fingerprintOf, readStamped, checkFiles } from '../../src/sources/file/fingerprint.js';
import { fileSource } from '../../src/sources/file/index.js';
import type { Source } from '../../src/sources/types.js';
import { Store } from '../../src/store/store.js';
import { cleanupAfterEach } from '../helpers/temp-db.js';

const cleanup = cleanupAfterEach();

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-fingerprint-'));
  const store = Store.open(':memory:');
  cleanup.push(
    () => store.close(),
    () => rmSync(dir, { recursive: true, force: true }),
  );
  writeFileSync(join(dir, 'users.yaml'), 'users:\n  - { id: a, externalId: x1 }\n  - { id: b, externalId: x2 }\n');
  writeFileSync(join(dir, 'groups.json'), JSON.stringify({ groups: [{ id: 'eng', displayName: 'team-eng', members: ['a'] }] }));
  const source: Source = fileSource.create({ name: 'git', type: 'file', path: dir }, { logger: pino({ level: 'silent' }), store });
  return { dir, store, source, version: () => store.reads.versions().get('git') ?? 0 };
}

describe('file source fingerprint', () => {
  it('cannot tell before its first read; after it, unchanged until a file is edited, added or removed', async () => {
    const t = setup();
    expect(await t.source.changed!(new AbortController().signal)).toBe(true);
    await t.source.fetch(new AbortController().signal);
    expect(t.version()).toBe(1);
    expect(await t.source.changed!(new AbortController().signal)).toBe(false);

    writeFileSync(join(t.dir, 'groups.json'), JSON.stringify({ groups: [{ id: 'eng', displayName: 'team-eng', members: ['b'] }] }));
    expect(await t.source.changed!(new AbortController().signal)).toBe(true);
    await t.source.fetch(new AbortController().signal);
    expect([t.version(), await t.source.changed!(new AbortController().signal)]).toEqual([2, false]);

    writeFileSync(join(t.dir, 'more.yml'), 'groups: []\n');
    expect(await t.source.changed!(new AbortController().signal)).toBe(true);
    await t.source.fetch(new AbortController().signal);
    unlinkSync(join(t.dir, 'more.yml'));
    expect(await t.source.changed!(new AbortController().signal)).toBe(true);
    // a file the source does not read is no change
    await t.source.fetch(new AbortController().signal);
    writeFileSync(join(t.dir, 'notes.txt'), 'not read');
    expect(await t.source.changed!(new AbortController().signal)).toBe(false);
  });

  it('takes a touch for no change (the bytes are the same) and stamps the file anew; a path gone is a change, and its read fails clearly', async () => {
    const t = setup();
    await t.source.fetch(new AbortController().signal);
    const before = t.store.reads.state('git')!.fingerprint;
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(t.dir, 'users.yaml'), later, later);
    expect(await t.source.changed!(new AbortController().signal)).toBe(false);
    expect(t.version()).toBe(1);
    // its new stamp is kept, so that the next check need not read it again
    const after = t.store.reads.state('git')!.fingerprint!;
    expect(after).not.toBe(before);
    expect((JSON.parse(after) as { mtimeMs: number }[]).map((x) => x.mtimeMs)).toContain(statSync(join(t.dir, 'users.yaml')).mtimeMs);

    rmSync(t.dir, { recursive: true, force: true });
    expect(await t.source.changed!(new AbortController().signal)).toBe(true);
    await expect(t.source.fetch(new AbortController().signal)).rejects.toThrow(/cannot read .*: ENOENT/);
  });
});

describe('file stamps', () => {
  const stampOf = (file: string) => (JSON.parse(fingerprintOf([readStamped(file)])) as Record<string, number | string>[])[0]!;

  it('trusts the file system for a file unchanged since well before it was read, and hashes one changed close to its read', () => {
    const t = setup();
    const file = join(t.dir, 'users.yaml');
    const stamp = stampOf(file);
    // a stamp whose hash is wrong: only a file that is read again is found changed
    const wrongHash = (statAt: number) => JSON.stringify([{ ...stamp, sha256: '0'.repeat(64), statAt }]);
    const changedAt = Number(BigInt(stamp.ctimeNs as string) / 1_000_000n);
    expect(checkFiles(file, wrongHash(changedAt + 60_000)).same).toBe(true);
    expect(checkFiles(file, wrongHash(changedAt + 500)).same).toBe(false);
    // a stamp of an older convsync, without the inode: hashed
    const { ino: _ino, ctimeNs: _ctime, statAt: _at, ...old } = stamp;
    expect(checkFiles(file, JSON.stringify([{ ...old, sha256: '0'.repeat(64) }])).same).toBe(false);
    expect(checkFiles(file, JSON.stringify([old])).same).toBe(true);
  });

  it('finds a rewrite of the same size whose mtime was set back (as a copy that keeps it does)', async () => {
    const t = setup();
    const file = join(t.dir, 'users.yaml');
    // whole seconds, which utimes sets back exactly
    const mtime = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
    utimesSync(file, mtime, mtime);
    const before = stampOf(file);
    const fingerprint = JSON.stringify([{ ...before, statAt: Number(BigInt(before.ctimeNs as string) / 1_000_000n) + 60_000 }]);
    await sleep(20);
    writeFileSync(file, 'users:\n  - { id: a, externalId: y1 }\n  - { id: b, externalId: y2 }\n');
    utimesSync(file, mtime, mtime);
    const after = stampOf(file);
    expect([after.size, after.mtimeMs]).toEqual([before.size, before.mtimeMs]);
    expect(checkFiles(file, fingerprint).same).toBe(false);
  });
});
