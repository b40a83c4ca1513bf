import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { LeaseError } from '../../src/store/lease.js';
import { Store } from '../../src/store/store.js';
import { tempDbPaths } from '../helpers/temp-db.js';

const A = { host: 'node-a', pid: 101, command: 'daemon', nonce: 'a' };
const B = { host: 'node-b', pid: 202, command: 'sync', nonce: 'b' };
const op = (key: string) => ({ op: 'add' as const, key, name: key, conversationId: `c-${key}`, members: ['u1'], reason: 'r' });

/** the lease as if its holder had not renewed it for a minute (a process paused, a VM frozen) */
function lapse(path: string): void {
  const db = new Database(path);
  const lease = JSON.parse(db.prepare(`SELECT value FROM meta WHERE key = 'lease'`).pluck().get() as string) as Record<string, unknown>;
  db.prepare(`UPDATE meta SET value = ? WHERE key = 'lease'`).run(JSON.stringify({ ...lease, renewedAt: new Date(Date.now() - 60_000).toISOString() }));
  db.close();
}

describe('the writer lease fences the journal', () => {
  const dbPath = tempDbPaths('convsync-fence-');

  it('a writer whose lease another took writes no op, no result, no end of run', () => {
    const path = dbPath();
    const a = Store.open(path, { writer: A });
    const run = a.runs.start('sync');
    const sent = a.journal.pending(run, op('k1'));
    lapse(path);
    const b = Store.open(path, { writer: B });
    expect(() => a.journal.pending(run, op('k2'))).toThrow(LeaseError);
    expect(() => a.journal.done(sent, { kind: 'added', conversationId: 'c-k1', members: ['u1'] })).toThrow(LeaseError);
    expect(() => a.journal.failed(sent, { kind: 'transient', message: 'x' })).toThrow(LeaseError);
    a.runs.finish(run, { result: 'failed', exitCode: 1, summary: null });
    // the new writer resolves what was left pending, and its mark of the old run stays
    expect(b.journal.pendingRows().map((r) => r.op.key)).toEqual(['k1']);
    expect(b.runs.recent(1)[0]).toMatchObject({ id: run, result: 'error', error: expect.stringMatching(/lost the lease/) });
    expect(() => b.journal.pending(b.runs.start('sync'), op('k3'))).not.toThrow();
    a.close();
    b.close();
  });

  it('a writer whose lease row is gone writes nothing either', () => {
    const path = dbPath();
    for (const wroteBefore of [false, true]) {
      const a = Store.open(path, { writer: A });
      const run = a.runs.start('sync');
      if (wroteBefore) a.journal.pending(run, op('k1'));
      a.lease.release(A);
      expect(() => a.journal.pending(run, op('k2'))).toThrow(LeaseError);
      a.close();
    }
  });

  it('keeps a lease its writer still holds fresh, however late its renewal timer', () => {
    const path = dbPath();
    const a = Store.open(path, { writer: A });
    lapse(path);
    a.journal.pending(a.runs.start('sync'), op('k1'));
    // renewed by the write: no one can take it now
    expect(() => Store.open(path, { writer: B })).toThrow(LeaseError);
    a.close();
  });

  it('a writer refused for a newer schema leaves no lease behind (a rollback must not keep the newer convsync out)', () => {
    const path = dbPath();
    Store.open(path).close();
    const raw = new Database(path);
    raw.pragma('user_version = 999');
    raw.close();
    expect(() => Store.open(path, { writer: A })).toThrow(/newer than this convsync understands/);
    const check = new Database(path, { readonly: true });
    expect(check.prepare(`SELECT value FROM meta WHERE key = 'lease'`).pluck().get()).toBeUndefined();
    check.close();
  });
});
