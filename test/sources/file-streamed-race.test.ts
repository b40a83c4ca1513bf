import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { spanDigest, spansOf } from '../../src/sources/file/spans.js';
import { streamedSpans } from '../../src/sources/file/streamed-spans.js';
import { cleanupAfterEach } from '../helpers/temp-db.js';
import { sourcesOver } from './read-view.js';

// a write that lands just as a read finds the end of the file, the `at`-th time one does
const atEnd: { at: number; write?: () => void } = { at: 0 };
vi.mock('node:fs', async (original) => {
  const actual = await original<typeof import('node:fs')>();
  const readSync = (...args: Parameters<typeof actual.readSync>) => {
    const n = (actual.readSync as (...a: unknown[]) => number)(...args);
    if (n === 0 && atEnd.write && --atEnd.at === 0) {
      const write = atEnd.write;
      atEnd.write = undefined;
      write();
    }
    return n;
  };
  return { ...actual, default: { ...actual, readSync }, readSync };
});

const cleanup = cleanupAfterEach();
const signal = new AbortController().signal;
const directory = (members: string[]) =>
  JSON.stringify({
    users: [{ id: 'u1' }, { id: 'u2' }],
    groups: [
      { id: 'g1', displayName: 'G', members },
      { id: 'g2', displayName: 'H', members: [] },
    ],
  });
const fileOf = (text: string) => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'convsync-race-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'directory.json');
  fs.writeFileSync(file, text);
  return file;
};

describe('a single JSON file written to as its read in pieces ends', () => {
  it('is stamped with the bytes it was read as, never with bytes written after its scan', () => {
    const text = directory(['u1']);
    for (const at of [1, 2]) {
      const file = fileOf(text);
      const spans = spansOf(Buffer.from(text))!;
      const known = { digest: spanDigest(Buffer.from(text), spans.users), length: spans.users[1] - spans.users[0] };
      Object.assign(atEnd, { at, write: () => fs.appendFileSync(file, ' garbage') });
      const read = streamedSpans(file, known, () => undefined);
      expect(atEnd.write, 'the write was made').toBeUndefined();
      // garbage the scan met refuses the file; garbage after it is not the file read
      if (read) expect(read.stamp.sha256, `end ${at}`).toBe(createHash('sha256').update(text).digest('hex'));
      expect(read === undefined, `end ${at}`).toBe(at === 1);
    }
  });

  it('is read again by the next run, which refuses what a whole read refuses', async () => {
    for (const at of [1, 2]) {
      const file = fileOf(directory(['u1']));
      const t = sourcesOver(file, cleanup);
      await t.source.fetch(signal);
      fs.writeFileSync(file, directory(['u1', 'u2']));
      t.tick();
      Object.assign(atEnd, { at, write: () => fs.appendFileSync(file, ' garbage') });
      const first = await t.source.fetch(signal, { partial: true }).catch((e: Error) => e);
      expect(atEnd.write, 'the write was made').toBeUndefined();
      if (at === 1) expect(first).toBeInstanceOf(Error);
      else expect((first as Awaited<ReturnType<typeof t.source.fetch>>).groups.find((g) => g.id === 'g1')!.members.map((m) => m.id)).toEqual(['u1', 'u2']);
      t.tick();
      expect(await t.source.changed!(signal), `end ${at}`).toBe(true);
      await expect(t.source.fetch(signal, { partial: true })).rejects.toThrow(/directory\.json/);
    }
  });
});
