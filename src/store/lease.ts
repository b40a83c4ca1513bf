import { readlinkSync } from 'node:fs';
import type Database from 'better-sqlite3';

const now = () => new Date().toISOString();

/** a lease not renewed for this long is free; holders renew it every third of it */
export const LEASE_TTL_MS = 30_000;

export interface LeaseHolder {
  host: string;
  pid: number;
  command: string;
  /** random per process: two containers with one host name and pid 1 each are still two holders */
  nonce?: string;
  /** the process's pid namespace (Linux): a pid says whether a process is alive only within its own */
  pidNs?: string;
}

const same = (a: LeaseHolder, b: LeaseHolder) => a.host === b.host && a.pid === b.pid && (a.nonce ?? '') === (b.nonce ?? '');

export class LeaseError extends Error {
  override name = 'LeaseError';
  constructor(
    message: string,
    /** who holds the lease, when another convsync does */
    readonly holder?: LeaseHolder,
  ) {
    super(message);
  }
}

/** The single-writer lease: one convsync writes to a database at a time. */
export class Lease {
  constructor(private readonly db: Database.Database) {
    // the lease is taken before migrations run, so its table cannot wait for them
    db.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
  }

  /**
   * Takes the writer lease, or throws with who holds it. A lease whose holder stopped renewing it
   * for `ttlMs` is free, and so is one held by a dead process on this host. True when it was not
   * this holder's already.
   */
  acquire(holder: LeaseHolder, ttlMs: number, alive: (pid: number) => boolean): boolean {
    return this.db
      .transaction(() => {
        const current = this.current();
        const mine = current && same(current, holder);
        if (current && !mine && Date.parse(current.renewedAt) + ttlMs > Date.now()) {
          // containers sharing a host name (host networking) each number their own processes: a pid
          // missing here says nothing of a holder in another pid namespace, which is waited for
          const dead = current.host === holder.host && (current.pidNs ?? '') === (holder.pidNs ?? '') && !alive(current.pid);
          if (!dead) {
            throw new LeaseError(
              `another convsync (pid ${current.pid} on ${current.host}, ${current.command}) is writing to this database ` +
                `since ${current.since}; only one writer is allowed. Stop it first, or wait ${Math.ceil(ttlMs / 1000)} s if it died on another host.`,
              { host: current.host, pid: current.pid, command: current.command },
            );
          }
        }
        const t = now();
        const lease = { ...holder, since: mine ? current.since : t, renewedAt: t };
        this.db.prepare(`INSERT INTO meta (key, value) VALUES ('lease', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(JSON.stringify(lease));
        return !mine;
      })
      .immediate();
  }

  /** extends the lease; throws when it is no longer this holder's (taken over after it lapsed) */
  renew(holder: LeaseHolder): void {
    // read and write in one immediate transaction: a takeover between the two cannot be overwritten
    this.db
      .transaction(() => {
        const current = this.current();
        if (!current || !same(current, holder)) throw new LeaseError('the writer lease was taken over by another convsync');
        this.db.prepare(`UPDATE meta SET value = ? WHERE key = 'lease'`).run(JSON.stringify({ ...current, renewedAt: now() }));
      })
      .immediate();
  }

  /**
   * The fence of every journal write, inside its transaction: throws when the lease is no longer
   * this holder's (a process paused past the lease's life, whose lease another convsync took), and
   * keeps it fresh otherwise. Without it, such a process would go on applying its old plan beside
   * the new writer, making conversations that writer made already.
   */
  hold(holder: LeaseHolder): void {
    // once per write: the statement is prepared once, and the row parsed only when it changed
    this.read ??= this.db.prepare(`SELECT value FROM meta WHERE key = 'lease'`).pluck();
    const text = this.read.get() as string | undefined;
    let held = this.held;
    if (text === undefined || text !== held?.text) {
      const current = text === undefined ? undefined : (JSON.parse(text) as LeaseHolder & { renewedAt: string });
      if (!current || !same(current, holder)) throw new LeaseError('the writer lease was taken over by another convsync: this process writes no more');
      held = this.held = { text: text!, renewedAt: Date.parse(current.renewedAt) };
    }
    if (held.renewedAt + LEASE_TTL_MS / 3 < Date.now()) {
      const renewed = JSON.stringify({ ...(JSON.parse(held.text) as object), renewedAt: now() });
      this.db.prepare(`UPDATE meta SET value = ? WHERE key = 'lease'`).run(renewed);
      this.held = { text: renewed, renewedAt: Date.now() };
    }
  }

  private read?: Database.Statement;
  /** the lease row as this process last found it its own */
  private held?: { text: string; renewedAt: number };

  release(holder: LeaseHolder): void {
    const current = this.current();
    if (current && same(current, holder)) this.db.prepare(`DELETE FROM meta WHERE key = 'lease'`).run();
  }

  private current(): (LeaseHolder & { since: string; renewedAt: string }) | undefined {
    const row = this.db.prepare(`SELECT value FROM meta WHERE key = 'lease'`).get() as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as LeaseHolder & { since: string; renewedAt: string }) : undefined;
  }
}

/** this process's pid namespace, as Linux names it (`pid:[4026531836]`); undefined elsewhere */
export function pidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

/** whether a process of this host is alive (EPERM: alive, owned by another user) */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
