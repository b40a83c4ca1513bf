import type { Logger } from 'pino';
import type { LdapSourceConfig } from '../../config/ldap-schema.js';
import { durationMs } from '../../config/schema.js';
import { AuthError, describeError } from '../../errors.js';
import type { ReadMark, SourceReads } from '../../store/source-reads.js';
import { storedOver } from '../stored-version.js';
import type { Source, SourceAdapter, SourceContext, SourceResult } from '../types.js';
import { connect, isPlain, type LdapConnection } from './connection.js';
import { fullReadDue, incrementalBase, nextCursor, probeCursor, type LdapCursor } from './cursor.js';
import { readWhole } from './full-read.js';
import { differsFromStored } from './check.js';
import { askChanges, highestStampOf, mergeChanges, type ChangesRead } from './incremental.js';
import type { ReadStats, SearchContext } from './paged-search.js';
import { isWhole, resultOf, type ListingRead } from './result.js';
import { fromStored, isOutsideId, toStoredRows } from './stored.js';

/** what the last read (or check) cost and did, for the log and for tests and benchmarks */
export interface LdapReadReport extends ReadStats {
  /** full: the whole directory; incremental: what changed, merged into the stored read; check: changed() */
  mode: 'full' | 'incremental' | 'check';
  /** why a full read (no earlier read, due, no usable cursor, …); check: what differs from the stored read */
  why?: string;
  url: string;
  activeDirectory: boolean;
  /** groups and users of the directory read (a check that asked nothing, the DC having committed nothing, leaves them out) */
  groups?: number;
  users?: number;
  seconds: number;
  /** whether the read was stored, moving the cursor */
  stored: boolean;
  /** incremental: what the cursor queries listed, and what differed from the stored read (check: what they listed; the rest 0) */
  changes?: { listedGroups: number; listedUsers: number; groups: number; deletedGroups: number; users: number; deletedUsers: number; outside: number };
}

/** one read's connection and clocks: `at` is the schedule's (fullReadEvery), `startedAt` the wall clock a modifyTimestamp cursor compares with */
interface Run {
  conn: LdapConnection;
  ctx: SearchContext;
  at: number;
  startedAt: number;
  began: number;
}

/**
 * OpenLDAP or Active Directory. The first read, one every `fullReadEvery`, and every read where the
 * server gives no usable cursor read the whole directory (full-read.ts) and store it; the reads in
 * between take what changed since the cursor (AD: uSNChanged; others: modifyTimestamp) and merge
 * it into the stored read (incremental.ts). Either way nested groups are expanded over the whole
 * directory. Whatever could not be read fails the read or makes the groups it touches unknown,
 * never an empty group or a shorter listing; such a read is not stored and the cursor stays.
 */
class LdapSource implements Source {
  readonly id: string;
  private readonly origin: string;
  private readonly log: Logger;
  private readonly reads: SourceReads;
  private readonly now: () => number;
  lastRead: LdapReadReport | undefined;
  lastCheck: LdapReadReport | undefined;

  constructor(
    private readonly config: LdapSourceConfig,
    ctx: SourceContext,
  ) {
    this.id = config.name;
    this.origin = `ldap:${config.name}`;
    this.log = ctx.logger.child({ source: config.name });
    this.reads = ctx.store.reads;
    this.now = ctx.now ?? Date.now;
    if (isPlain(config)) this.log.warn('LDAP source uses ldap:// without startTls: the bind password and the directory cross the network in the clear');
  }

  async fetch(signal: AbortSignal): Promise<SourceResult> {
    const run = await this.open(signal);
    try {
      const base = incrementalBase(this.config, this.reads.state(this.id), run.conn, run.at);
      if ('full' in base) return await this.readFully(run, base.full);
      const done = await this.readIncrementally(run, base.cursor);
      return 'result' in done ? done.result : await this.readFully(run, done.fallback);
    } finally {
      await run.conn.close();
    }
  }

  /** whether anything may have changed since the stored read: the incremental read's questions, without reading on */
  async changed(signal: AbortSignal): Promise<boolean> {
    if (fullReadDue(this.config, this.reads.state(this.id), this.now()) !== undefined) return true;
    let run: Run | undefined;
    try {
      run = await this.open(signal);
      return await this.check(run);
    } catch (e) {
      if (e instanceof AuthError) throw e;
      this.log.warn({ err: describeError(e) }, 'LDAP: could not tell whether anything changed; reading');
      return true;
    } finally {
      await run?.conn.close();
    }
  }

  private async open(signal: AbortSignal): Promise<Run> {
    const [began, at, startedAt] = [performance.now(), this.now(), Date.now()];
    const conn = await connect(this.config, this.origin);
    const ctx: SearchContext = {
      conn,
      origin: this.origin,
      pageSize: this.config.pageSize,
      timeoutMs: this.config.timeoutMs,
      stats: { requests: 0, entries: 0 },
      signal,
    };
    return { conn, ctx, at, startedAt, began };
  }

  private async readFully(run: Run, why: string): Promise<SourceResult> {
    const read = await readWhole(run.ctx, this.config, run.conn);
    const result = resultOf(this.id, this.config, read);
    const stored = isWhole(read) && result.groups.every((g) => g.complete) ? await this.storeWhole(run, read) : false;
    const { directory } = read;
    this.report(run, {
      mode: 'full',
      why,
      stored: stored !== false,
      groups: directory.groups.size,
      users: directory.users.size,
      outside: directory.outside.size,
    });
    return { ...result, version: stored === false ? null : stored };
  }

  /** a whole read kept for the reads that follow, with its cursor, and the version it left; without a usable cursor, nothing is kept (false) */
  private async storeWhole(run: Run, read: ListingRead): Promise<number | null | false> {
    const cursor = nextCursor(this.config, run.conn, run.startedAt, read.highestStamp);
    let unusable: string | undefined;
    if (durationMs(this.config.fullReadEvery) === 0) unusable = 'fullReadEvery is 0s';
    else if (!cursor) unusable = 'the server is Active Directory without highestCommittedUSN';
    else if (cursor.kind === 'modifyTimestamp' && cursor.highest === null) unusable = 'no group or user carries modifyTimestamp';
    else unusable = await probeCursor(run.ctx, this.config, cursor);
    if (unusable !== undefined) {
      if (this.reads.state(this.id)) this.reads.forget(this.id);
      this.log.info({ why: unusable }, 'LDAP: no usable cursor, so every read is a full one');
      return false;
    }
    return storedOver(this.reads, this.id, undefined, () =>
      this.reads.replace(this.id, toStoredRows(read.directory), { at: new Date(run.at).toISOString(), cursor: JSON.stringify(cursor) }),
    );
  }

  private async readIncrementally(run: Run, cursor: LdapCursor): Promise<{ result: SourceResult } | { fallback: string }> {
    // the stored read and its version, as one: changes are merged into this read
    const base = this.reads.atomically(() => ({ groups: this.reads.groups(this.id), users: this.reads.users(this.id), version: this.reads.version(this.id) }));
    const stored = fromStored(base.groups, base.users);
    if (stored.unreadable > 0) return { fallback: `${stored.unreadable} stored entries could not be read back` };
    const found = await mergeChanges(run.ctx, this.config, await askChanges(run.ctx, this.config, run.conn, cursor), stored.directory);
    if ('fallback' in found) return found;
    const result = resultOf(this.id, this.config, found.read);
    const whole = isWhole(found.read) && result.groups.every((g) => g.complete);
    const version = whole
      ? storedOver(this.reads, this.id, base.version, () => this.reads.apply(this.id, found.changes, this.mark(run, found.read.highestStamp, cursor)))
      : null;
    const { directory } = found.read;
    this.report(run, {
      mode: 'incremental',
      stored: whole,
      changes: counts(found),
      groups: directory.groups.size,
      users: directory.users.size,
      outside: directory.outside.size,
    });
    return { result: { ...result, version } };
  }

  /** the incremental read's questions, compared with the stored read without loading it whole */
  private async check(run: Run): Promise<boolean> {
    const base = incrementalBase(this.config, this.reads.state(this.id), run.conn, run.at);
    if ('full' in base) return true;
    const asked = await askChanges(run.ctx, this.config, run.conn, base.cursor);
    if (asked === undefined) {
      this.report(run, { mode: 'check', stored: false, outside: 0 });
      return false;
    }
    const groups = this.reads.groups(this.id);
    const users = this.reads.users(this.id);
    const why = await differsFromStored(run.ctx, this.config, asked, { groups, users });
    // nothing differs from the stored read: it holds as of now, and the cursor moves
    if (why === undefined)
      this.reads.apply(this.id, { groups: [], deletedGroups: [], users: [], deletedUsers: [] }, this.mark(run, highestStampOf(asked), base.cursor));
    const changes = { listedGroups: asked.changedGroups.groups.length, listedUsers: asked.changedUsers.byDn.size, ...NO_CHANGE };
    const outside = groups.filter((g) => isOutsideId(g.id)).length;
    this.report(run, {
      mode: 'check',
      stored: why === undefined,
      why,
      changes,
      groups: groups.length - outside,
      users: users.size,
      outside,
    });
    return why !== undefined;
  }

  private mark(run: Run, highest: number | undefined, before: LdapCursor): ReadMark {
    const next = nextCursor(this.config, run.conn, run.startedAt, highest, before);
    return { at: new Date(run.at).toISOString(), cursor: next ? JSON.stringify(next) : null };
  }

  private report(run: Run, what: Pick<LdapReadReport, 'mode' | 'why' | 'stored' | 'changes' | 'groups' | 'users'> & { outside: number }): void {
    const { conn, ctx } = run;
    const { outside, ...rest } = what;
    const report: LdapReadReport = {
      ...rest,
      ...ctx.stats,
      url: conn.url,
      activeDirectory: conn.server.activeDirectory,
      seconds: (performance.now() - run.began) / 1000,
    };
    if (what.mode === 'check') this.lastCheck = report;
    else this.lastRead = report;
    this.log.info({ ...report, outside }, what.mode === 'check' ? 'LDAP directory checked' : 'LDAP directory read');
  }
}

const NO_CHANGE = { groups: 0, deletedGroups: 0, users: 0, deletedUsers: 0, outside: 0 };

/** what the cursor queries listed, and what differed: groups and users, and entries outside the listings written or dropped */
function counts(found: ChangesRead): LdapReadReport['changes'] {
  const { changes, listed } = found;
  const outside = [...changes.groups.map((g) => g.id), ...changes.deletedGroups].filter(isOutsideId).length;
  return {
    listedGroups: listed.groups,
    listedUsers: listed.users,
    groups: changes.groups.filter((g) => !isOutsideId(g.id)).length,
    deletedGroups: changes.deletedGroups.filter((id) => !isOutsideId(id)).length,
    users: changes.users.length,
    deletedUsers: changes.deletedUsers.length,
    outside,
  };
}

export const ldapSource = {
  type: 'ldap',
  create: (config: LdapSourceConfig, ctx: SourceContext) => new LdapSource(config, ctx),
} satisfies SourceAdapter<LdapSourceConfig>;
