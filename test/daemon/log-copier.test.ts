import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { LogCopier } from '../../src/daemon/log-copier.js';
import { LOG_PAGES_BETWEEN_RUNS } from '../../src/daemon/run-thread.js';
import { Store } from '../../src/store/store.js';
import { captureLines } from '../helpers/log-lines.js';
import { cleanupAfterEach, tempDbPaths } from '../helpers/temp-db.js';

const dbPath = tempDbPaths('convsync-copier-');
const cleanup = cleanupAfterEach();

function setUp() {
  const path = dbPath();
  const store = Store.open(path);
  cleanup.push(() => store.close());
  store.wal.checkpointAt(LOG_PAGES_BETWEEN_RUNS);
  const captured = captureLines();
  const logger = pino({ level: 'info' }, captured.stream);
  /** what was logged so far, line by line */
  const logged = () => captured.lines.map((l) => JSON.parse(l) as { level: number; msg: string; [k: string]: unknown });
  /** a credential written by the store, found in the database file itself only once the log is copied */
  const write = (marker: string) => store.users.saveCredential(`marker-${marker}`, `${marker}`.repeat(50), 'test');
  const inDatabase = (marker: string) => readFileSync(path).includes(`${marker}`.repeat(50));
  return { path, store, logger, logged, write, inDatabase };
}

it('copies the log while idle and after the last call in flight, never during a call', async () => {
  const { store, logger, write, inDatabase } = setUp();
  const copier = new LogCopier(store.wal, logger, { everyMs: 20, tellHeldBackAfterMs: 60_000, restartAtPages: Number.POSITIVE_INFINITY });
  cleanup.push(() => copier.stop());

  // idle: a write (a push, a lease renewal) is copied within an interval
  write('idle-write');
  expect(inDatabase('idle-write')).toBe(false);
  await sleep(120);
  expect(inDatabase('idle-write')).toBe(true);

  // a call in flight: no copy, however many intervals pass, nor when another call ends before it
  let finish!: () => void;
  const long = copier.around(() => new Promise<void>((r) => (finish = r)));
  write('during-call');
  await copier.around(async () => write('short-call'));
  await sleep(120);
  expect(inDatabase('during-call')).toBe(false);
  expect(inDatabase('short-call')).toBe(false);
  // the last one's end copies at once, before the next interval
  copier.stop();
  finish();
  await long;
  expect(inDatabase('during-call')).toBe(true);
  expect(inDatabase('short-call')).toBe(true);
});

it('a call that fails still ends: the log is copied after it', async () => {
  const { store, logger, write, inDatabase } = setUp();
  const copier = new LogCopier(store.wal, logger, { everyMs: 60_000, tellHeldBackAfterMs: 60_000, restartAtPages: Number.POSITIVE_INFINITY });
  cleanup.push(() => copier.stop());
  await expect(
    copier.around(async () => {
      write('failed-call');
      throw new Error('the run failed');
    }),
  ).rejects.toThrow('the run failed');
  expect(inDatabase('failed-call')).toBe(true);
});

it('tells once when a reader holds copies back past the limit, with the log size, and when it lets go', async () => {
  const { path, store, logger, logged, write } = setUp();
  let now = 0;
  const copier = new LogCopier(store.wal, logger, { everyMs: 60_000, tellHeldBackAfterMs: 300_000, restartAtPages: Number.POSITIVE_INFINITY, now: () => now });
  cleanup.push(() => copier.stop());
  const reader = new Database(path);
  cleanup.push(() => reader.close());
  write('before-reader');
  reader.exec('BEGIN');
  reader.prepare('SELECT count(*) FROM runs').get();
  const call = (marker: string) => copier.around(async () => write(marker));

  await call('held-1');
  now = 200_000;
  await call('held-2');
  expect(logged().filter((l) => l.level === 40)).toEqual([]);
  now = 300_000;
  await call('held-3');
  const warned = logged().filter((l) => l.level === 40);
  expect(warned).toHaveLength(1);
  expect(warned[0]!.msg).toMatch(/keeps part of its log from being copied/);
  expect(warned[0]!.logBytes).toBe(store.wal.bytes());
  expect(warned[0]!.logBytes).toBeGreaterThan(0);
  expect(warned[0]!.pagesNotCopied).toBeGreaterThan(0);
  expect(warned[0]!.heldBackSeconds).toBe(300);
  // told once a streak
  now = 400_000;
  await call('held-4');
  expect(logged().filter((l) => l.level === 40)).toHaveLength(1);

  reader.exec('COMMIT');
  await call('after-reader');
  expect(logged().at(-1)!.msg).toMatch(/copied its log into the database again/);
  const told = logged().length;
  const hold = () => {
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM runs').get();
  };
  // a short hold is not told, nor its end
  hold();
  now = 450_000;
  await call('short-hold');
  reader.exec('COMMIT');
  now = 460_000;
  await call('after-short-hold');
  expect(logged()).toHaveLength(told);
  // held back anew: counted from then, and told again
  hold();
  now = 500_000;
  await call('held-again-1');
  now = 700_000;
  await call('held-again-2');
  expect(logged()).toHaveLength(told);
  now = 800_000;
  await call('held-again-3');
  expect(
    logged()
      .filter((l) => l.level === 40)
      .map((l) => l.heldBackSeconds),
  ).toEqual([300, 300]);
  reader.exec('COMMIT');
});

it('starts a log copied whole over once it reaches the limit, and not one that is short or not copied whole', async () => {
  const { store, logger, logged } = setUp();
  const copies: { log: number; copied: number }[] = [];
  const restarts: number[] = [];
  const spy = {
    checkpoint: () => copies.shift(),
    restart: (waitMs: number) => (restarts.push(waitMs), true),
    bytes: () => store.wal.bytes(),
  };
  const copier = new LogCopier(spy, logger, { everyMs: 60_000, tellHeldBackAfterMs: 60_000, restartAtPages: 4000 });
  cleanup.push(() => copier.stop());
  const call = async (copy?: { log: number; copied: number }) => {
    if (copy) copies.push(copy);
    await copier.around(async () => undefined);
  };
  await call({ log: 3999, copied: 3999 });
  await call({ log: 9000, copied: 8999 });
  await call();
  expect(restarts).toEqual([]);
  await call({ log: 4000, copied: 4000 });
  // held up writers wait for it: it waits for readers only briefly
  expect(restarts).toEqual([10]);
  await call({ log: 9000, copied: 9000 });
  expect(restarts).toHaveLength(2);
  // one that fails is told, and the next copy tries again
  spy.restart = () => {
    throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
  };
  await call({ log: 9000, copied: 9000 });
  expect(logged().map((l) => l.msg)).toEqual(['the store could not copy its log into the database, or start it over; the next copy tries again']);
});

it('a store that cannot copy is told, and the calls go on', async () => {
  const { store, logger, logged } = setUp();
  const failing = {
    checkpoint: () => {
      throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
    },
    restart: () => true,
    bytes: () => store.wal.bytes(),
  };
  const copier = new LogCopier(failing, logger, { everyMs: 60_000, tellHeldBackAfterMs: 60_000, restartAtPages: Number.POSITIVE_INFINITY });
  cleanup.push(() => copier.stop());
  expect(await copier.around(async () => 42)).toBe(42);
  expect(logged().map((l) => l.msg)).toEqual(['the store could not copy its log into the database, or start it over; the next copy tries again']);
});

it('a copy that did not run (another connection copying) neither ends a streak held back nor starts the log over; a failure to tell is no end of the thread', async () => {
  const { logger, logged } = setUp();
  let now = 0;
  const copies: { log: number; copied: number }[] = [];
  let restarts = 0;
  let bytes = () => 1234;
  const spy = { checkpoint: () => copies.shift(), restart: () => (restarts++, true), bytes: () => bytes() };
  const copier = new LogCopier(spy, logger, { everyMs: 60_000, tellHeldBackAfterMs: 1000, restartAtPages: 1, now: () => now });
  cleanup.push(() => copier.stop());
  const call = (copy: { log: number; copied: number }) => (copies.push(copy), copier.around(async () => undefined));
  await call({ log: 50, copied: 10 });
  now = 1000;
  await call({ log: 60, copied: 10 });
  expect(logged().map((l) => l.level)).toEqual([40]);
  await call({ log: -1, copied: -1 });
  expect(logged()).toHaveLength(1);
  expect(restarts).toBe(0);
  // still the same streak: its end is told
  await call({ log: 70, copied: 70 });
  expect(logged().at(-1)!.msg).toMatch(/copied its log into the database again/);
  expect(restarts).toBe(1);
  // the log's size unreadable when telling: logged, and the calls go on
  bytes = () => {
    throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
  };
  await call({ log: 50, copied: 10 });
  now = 3000;
  await call({ log: 60, copied: 10 });
  expect(logged().at(-1)!.msg).toMatch(/could not copy its log into the database, or start it over/);
  expect(await copier.around(async () => 'next call')).toBe('next call');
});
