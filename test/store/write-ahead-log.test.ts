import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { tempDbPaths } from '../helpers/temp-db.js';

const dbPath = tempDbPaths('convsync-wal-');

it('copies the log into the database when asked, past a reader only as far as its snapshot, and in a commit only past the limit set', () => {
  const path = dbPath();
  const store = Store.open(path);
  store.wal.checkpointAt(20_000);
  const other = new Database(path);
  expect(other.pragma('journal_mode', { simple: true })).toBe('wal');
  let round = 0;
  const write = (n: number) => {
    round++;
    for (let i = 0; i < n; i++) store.prints.save(new Map([[`dir:g${i}`, `${round}`.repeat(3000)]]), { replace: false });
  };
  // past SQLite's 1,000 pages, no commit of this connection copied the log
  write(1200);
  const before = store.wal.checkpoint()!;
  expect(before.log).toBeGreaterThan(1000);
  expect(before.copied).toBe(before.log);

  // a reader holding a snapshot keeps the pages written after it in the log
  write(10);
  const read = other.prepare('SELECT count(*) FROM group_prints').pluck();
  other.exec('BEGIN');
  read.get();
  write(50);
  const partial = store.wal.checkpoint()!;
  expect(partial.copied).toBeLessThan(partial.log);
  other.exec('COMMIT');
  const after = store.wal.checkpoint()!;
  expect(after.copied).toBe(after.log);
  other.close();
  store.close();
  expect(store.wal.checkpoint()).toBeUndefined();
});

it('starts the log over: the next writer writes at its beginning; a reader that needs it keeps it, and is waited for only as long as asked', () => {
  const path = dbPath();
  const store = Store.open(path);
  store.wal.checkpointAt(20_000);
  const write = (n: number, round: string) => {
    for (let i = 0; i < n; i++) store.prints.save(new Map([[`dir:g${i}`, round.repeat(3000)]]), { replace: false });
  };
  write(600, 'a');
  expect(store.wal.restart(10)).toBe(true);
  write(10, 'b');
  expect(store.wal.checkpoint()!.log).toBeLessThan(100);

  const other = new Database(path);
  write(600, 'c');
  other.exec('BEGIN');
  other.prepare('SELECT count(*) FROM group_prints').pluck().get();
  write(10, 'd');
  const started = performance.now();
  expect(store.wal.restart(10)).toBe(false);
  expect(performance.now() - started).toBeLessThan(1000);
  write(10, 'e');
  expect(store.wal.checkpoint()!.log).toBeGreaterThan(600);
  other.exec('COMMIT');
  // a reader at the log's end needs none of it copied, but still reads from the log: no start over
  other.exec('BEGIN');
  other.prepare('SELECT count(*) FROM group_prints').pluck().get();
  expect(store.wal.restart(10)).toBe(false);
  other.exec('COMMIT');
  // a write waits for the lock as long as before (5 s), not as long as the restart did
  other.exec('BEGIN IMMEDIATE');
  const waited = performance.now();
  expect(() => write(1, 'f')).toThrow(/locked|busy/i);
  expect(performance.now() - waited).toBeGreaterThan(4000);
  other.exec('ROLLBACK');
  other.close();
  store.close();
  expect(store.wal.restart(10)).toBe(false);
});
