import { mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { fileSource } from '../../src/sources/file/index.js';
import type { Source } from '../../src/sources/types.js';
import { Store } from '../../src/store/store.js';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

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

  it('takes a touch as a change (the mtime is part of the fingerprint); a path gone is a change, and its read fails clearly', async () => {
    const t = setup();
    await t.source.fetch(new AbortController().signal);
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(t.dir, 'users.yaml'), later, later);
    expect(await t.source.changed!(new AbortController().signal)).toBe(true);
    await t.source.fetch(new AbortController().signal);
    // a new version: the run after it plans once more, with nothing to do
    expect(t.version()).toBe(2);
    expect(await t.source.changed!(new AbortController().signal)).toBe(false);

    rmSync(t.dir, { recursive: true, force: true });
    expect(await t.source.changed!(new AbortController().signal)).toBe(true);
    await expect(t.source.fetch(new AbortController().signal)).rejects.toThrow(/cannot read .*: ENOENT/);
  });
});
