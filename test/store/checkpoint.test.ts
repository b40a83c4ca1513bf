import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';

it('copies the log into the database when asked, past a reader only as far as its snapshot, and in a commit only past the limit set', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'convsync-checkpoint-')), 'convsync.db');
  const store = Store.open(path);
  store.checkpointAt(20_000);
  const other = new Database(path);
  expect(other.pragma('journal_mode', { simple: true })).toBe('wal');
  let round = 0;
  const write = (n: number) => {
    round++;
    for (let i = 0; i < n; i++) store.prints.save(new Map([[`dir:g${i}`, `${round}`.repeat(3000)]]), { replace: false });
  };
  // past SQLite's 1,000 pages, no commit of this connection copied the log
  write(1200);
  const before = store.checkpoint()!;
  expect(before.log).toBeGreaterThan(1000);
  expect(before.copied).toBe(before.log);

  // a reader holding a snapshot keeps the pages written after it in the log
  write(10);
  const read = other.prepare('SELECT count(*) FROM group_prints').pluck();
  other.exec('BEGIN');
  read.get();
  write(50);
  const partial = store.checkpoint()!;
  expect(partial.copied).toBeLessThan(partial.log);
  other.exec('COMMIT');
  const after = store.checkpoint()!;
  expect(after.copied).toBe(after.log);
  other.close();
  store.close();
  expect(store.checkpoint()).toBeUndefined();
});
