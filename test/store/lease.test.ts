import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LeaseKeeper } from '../../src/lease-keeper.js';
import { LeaseError, pidNamespace, Store } from '../../src/store/store.js';

const me = { host: hostname(), pid: process.pid, command: 'sync' };
/** another convsync on this host that is alive: the test runner's parent */
const other = { host: hostname(), pid: process.ppid, command: 'daemon' };

describe('the writer lease', () => {
  const dirs: string[] = [];
  const dbPath = () => {
    const dir = mkdtempSync(join(tmpdir(), 'convsync-lease-'));
    dirs.push(dir);
    return join(dir, 'convsync.db');
  };
  afterEach(() => {
    vi.useRealTimers();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('migrations wait for the lease: while another convsync writes, neither a writer nor a reader migrates an old database', () => {
    const path = dbPath();
    const db = new Database(path);
    db.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    const t = new Date().toISOString();
    db.prepare(`INSERT INTO meta (key, value) VALUES ('lease', ?)`).run(JSON.stringify({ ...other, since: t, renewedAt: t }));
    db.close();

    expect(() => Store.open(path, { writer: me })).toThrow(LeaseError);
    expect(() => Store.open(path)).toThrow(/another convsync \(pid \d+ on .+, daemon\) is writing/);
    const version = new Database(path);
    expect(version.pragma('user_version', { simple: true })).toBe(0);
    version.close();

    // the error names who holds it, so that a command can be sent to a daemon instead
    try {
      Store.open(path, { writer: me });
    } catch (e) {
      expect((e as LeaseError).holder).toEqual(other);
    }
  });

  it('a run left open by a writer that died is recorded as interrupted by the next writer, not by a reader or the same holder again', () => {
    const path = dbPath();
    // a writer on this host whose process is gone, its lease still fresh
    const gone = { host: hostname(), pid: 2 ** 22 + 7, command: 'sync' };
    const dead = Store.open(path, { writer: gone });
    const open = dead.runs.start('sync');
    dead.close();
    const reader = Store.open(path);
    expect(reader.runs.recent(1)[0]).toMatchObject({ id: open, finishedAt: null });
    reader.close();

    const next = Store.open(path, { writer: me });
    expect(next.runs.recent(1)[0]).toMatchObject({ id: open, result: 'error', exitCode: 1, error: expect.stringMatching(/^interrupted: /) });
    // the same holder opening again (the daemon's run thread) leaves its own run alone
    const mine = next.runs.start('sync');
    const again = Store.open(path, { writer: me });
    expect(again.runs.recent(1)[0]).toMatchObject({ id: mine, finishedAt: null });
    again.close();
    next.close();
  });

  it('a holder in another pid namespace (a container sharing the host name) is never taken as dead for a pid missing here', () => {
    const path = dbPath();
    // pid 2^22+7 exists in no namespace of this test: only the namespace tells the two holders apart
    const elsewhere = { host: hostname(), pid: 2 ** 22 + 7, command: 'daemon', pidNs: 'pid:[1]' };
    Store.open(path, { writer: elsewhere }).close();
    const here = { ...me, pidNs: pidNamespace() ?? 'pid:[2]' };
    expect(() => Store.open(path, { writer: here })).toThrow(/another convsync \(pid 4194311 on .+, daemon\) is writing/);
    // in this namespace, the same missing pid is a holder that died: taken over at once
    const dead = { ...elsewhere, pidNs: here.pidNs };
    const path2 = dbPath();
    Store.open(path2, { writer: dead }).close();
    Store.open(path2, { writer: here }).close();
  });

  it('a reader migrates an old database under a lease it gives back at once', () => {
    const path = dbPath();
    const store = Store.open(path);
    expect(store.schemaVersion).toBeGreaterThan(10);
    store.close();
    const writer = Store.open(path, { writer: other });
    writer.close();
  });

  it('a keeper that finds its lease taken over stops: lost is set and the owner told once', () => {
    vi.useFakeTimers();
    const path = dbPath();
    const store = Store.open(path, { writer: me });
    const lost: string[] = [];
    const keeper = new LeaseKeeper(store, me, pino({ level: 'silent' }), (why) => lost.push(why), 30_000);
    vi.advanceTimersByTime(10_000);
    expect(keeper.lost).toBeUndefined();

    // another convsync took it after ours lapsed (it saw no renewal for the TTL)
    const thief = Store.open(path);
    vi.setSystemTime(Date.now() + 31_000);
    thief.lease.acquire(other, 30_000, () => true);
    thief.close();
    vi.advanceTimersByTime(10_000);
    expect(keeper.lost).toMatch(/taken over by another convsync/);
    vi.advanceTimersByTime(60_000);
    expect(lost).toHaveLength(1);
    keeper.stop();
    store.close();
  });

  it('a keeper that cannot write gives up only when the lease could have lapsed for others', () => {
    vi.useFakeTimers();
    const path = dbPath();
    const store = Store.open(path, { writer: me });
    const lost: string[] = [];
    const keeper = new LeaseKeeper(store, me, pino({ level: 'silent' }), (why) => lost.push(why), 30_000);
    store.close();
    vi.advanceTimersByTime(10_000);
    expect(keeper.lost).toBeUndefined();
    vi.advanceTimersByTime(20_000);
    expect(keeper.lost).toMatch(/could not be renewed for \d+ s/);
    expect(lost).toHaveLength(1);
    keeper.stop();
  });
});
