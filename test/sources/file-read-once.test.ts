import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { fileSource } from '../../src/sources/file/index.js';
import type { Source } from '../../src/sources/types.js';
import { Store } from '../../src/store/store.js';
import { cleanupAfterEach } from '../helpers/temp-db.js';

// how many times each file was opened: a read of a file opens it once
const opened = new Map<string, number>();
vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  const openSync = ((...args: Parameters<typeof fs.openSync>) => {
    opened.set(String(args[0]), (opened.get(String(args[0])) ?? 0) + 1);
    return fs.openSync(...args);
  }) as typeof fs.openSync;
  return { ...fs, default: { ...fs, openSync }, openSync };
});

const cleanup = cleanupAfterEach();
const signal = new AbortController().signal;

function directory() {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-read-once-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'directory.json');
  const users = Array.from({ length: 10 }, (_, i) => ({ id: `u${10 + i}` }));
  const write = (members: string[]) => writeFileSync(file, JSON.stringify({ users, groups: [{ id: 'g1', displayName: 'team-1', members }] }));
  const store = Store.open(':memory:');
  cleanup.push(() => store.close());
  const source: Source = fileSource.create({ name: 'dir', type: 'file', path: file }, { store, logger: pino({ level: 'silent' }) });
  /** a run as the reconciler makes it: has the source changed, then what changed */
  const run = async () => {
    opened.clear();
    expect(await source.changed!(signal)).toBe(true);
    const read = await source.fetch(signal, { partial: true });
    return { members: read.groups[0]!.members.map((m) => m.id), opens: opened.get(file) ?? 0 };
  };
  return { source, write, run };
}

describe('a file source read after a change', () => {
  it('reads a changed file once per run: the bytes its check read are those the read uses', async () => {
    const d = directory();
    d.write(['u10', 'u11']);
    expect(await d.run()).toEqual({ members: ['u10', 'u11'], opens: 1 });
    // the same size: the check reads the file to tell that it changed
    d.write(['u10', 'u12']);
    expect(await d.run()).toEqual({ members: ['u10', 'u12'], opens: 1 });
    // another size: the check tells it without reading
    d.write(['u10', 'u12', 'u13']);
    expect(await d.run()).toEqual({ members: ['u10', 'u12', 'u13'], opens: 1 });
  });

  it('takes a change made between the check and the read in the next run, not lost', async () => {
    const d = directory();
    d.write(['u10', 'u11']);
    await d.run();
    d.write(['u10', 'u12']);
    expect(await d.source.changed!(signal)).toBe(true);
    d.write(['u10', 'u13']);
    // the read is of the bytes checked, under their own stamp, which the file no longer matches
    const read = await d.source.fetch(signal, { partial: true });
    expect(read.groups[0]!.members.map((m) => m.id)).toEqual(['u10', 'u12']);
    expect(await d.run()).toEqual({ members: ['u10', 'u13'], opens: 1 });
  });
});
