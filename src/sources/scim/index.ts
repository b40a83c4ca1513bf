import type { Logger } from 'pino';
import { durationMs, type ScimSourceConfig } from '../../config/schema.js';
import { AuthError, describeError } from '../../errors.js';
import type { SourceReads } from '../../store/source-reads.js';
import type { Source, SourceAdapter, SourceContext, SourceResult } from '../types.js';
import { storedOver } from '../stored-version.js';
import { ScimClient } from './client.js';
import { serviceProviderConfig, type ScimContext } from './context.js';
import { crawl } from './crawl.js';
import { readChanges } from './incremental.js';
import { anythingChanged, probeLastModified, refused } from './probe.js';
import { incrementalBase, scopeOf, type ScimCursor } from './read-state.js';

/**
 * SCIM 2.0 pull. The first read, and one every `fullReadEvery`, is a full crawl (crawl.ts); it
 * asks whether the provider filters on meta.lastModified (probe.ts). Where it does, the reads in
 * between take only what changed since the last good read and merge it into the stored read
 * (incremental.ts). Either way the result is the whole directory, and anything that could not be
 * read makes what it touches *unknown*, never gone.
 */
class ScimPullSource implements Source {
  readonly id: string;
  private readonly client: ScimClient;
  private readonly log: Logger;
  private readonly reads: SourceReads;
  private readonly now: () => number;

  constructor(
    private readonly config: ScimSourceConfig,
    ctx: SourceContext,
  ) {
    this.id = config.name;
    this.log = ctx.logger.child({ source: config.name });
    this.reads = ctx.store.reads;
    this.now = ctx.now ?? Date.now;
    this.client = new ScimClient({
      origin: `scim:${config.name}`,
      baseUrl: config.baseUrl,
      auth: config.auth,
      timeoutMs: config.timeoutMs,
      // a provider that asks for more than five minutes (hours, from a misconfigured edge) is not waited
      // for: the read fails, its groups are unknown, and the next run reads again
      retry: { maxAttempts: config.maxAttempts, baseDelayMs: 200, maxDelayMs: 5000, giveUpBeyondMs: 300_000 },
      dispatcher: ctx.dispatcher,
    });
  }

  async fetch(signal: AbortSignal): Promise<SourceResult> {
    const started = this.now();
    const ctx = this.context(signal);
    const spc = await serviceProviderConfig(ctx);
    const base = incrementalBase(this.config, this.reads.state(this.id), started);
    if ('cursor' in base) {
      const cursor = await this.confirmed(ctx, base.cursor, spc.filtering);
      if (cursor) {
        const result = await this.readIncrementally(ctx, cursor, spc.maxResults, started);
        if (result) return result;
      }
    } else this.log.info({ why: base.full }, 'SCIM full crawl');
    return this.crawl(ctx, spc, started);
  }

  /** whether anything may have changed since the stored read (true when that cannot be told cheaply) */
  async changed(signal: AbortSignal): Promise<boolean> {
    const base = incrementalBase(this.config, this.reads.state(this.id), this.now());
    if ('full' in base || base.cursor.lastModified !== 'supported') return true;
    try {
      return await anythingChanged(this.context(signal), base.cursor, this.reads);
    } catch (e) {
      if (e instanceof AuthError) throw e;
      this.log.warn({ err: describeError(e) }, 'SCIM: could not ask what changed; reading');
      return true;
    }
  }

  private context(signal: AbortSignal): ScimContext {
    return { source: this.id, client: this.client, config: this.config, log: this.log, signal, warnings: [] };
  }

  /** the cursor, once the provider's filtering on meta.lastModified is known; undefined: crawl */
  private async confirmed(ctx: ScimContext, cursor: ScimCursor, filtering: boolean | undefined): Promise<ScimCursor | undefined> {
    if (cursor.lastModified === 'supported') return cursor;
    const lastModified = await probeLastModified(ctx, filtering, cursor);
    return lastModified === 'supported' ? { ...cursor, lastModified } : undefined;
  }

  /** undefined when the provider refused the filter: the caller crawls instead */
  private async readIncrementally(ctx: ScimContext, cursor: ScimCursor, maxResults: number, started: number): Promise<SourceResult | undefined> {
    let read;
    // the stored read and its version, as one: changes are merged into this read
    const base = this.reads.atomically(() => ({ groups: this.reads.groups(this.id), users: this.reads.users(this.id), version: this.reads.version(this.id) }));
    try {
      read = await readChanges(ctx, cursor, { groups: base.groups, users: base.users }, { maxResults, at: new Date(started).toISOString() });
    } catch (e) {
      if (!refused(e)) throw e;
      ctx.warnings.push(`source ${this.id}: the provider refused a filter on meta.lastModified (${describeError(e)}); read in full instead`);
      return undefined;
    }
    const { changes, totals } = read;
    let version: number | null = base.version;
    if (changes) {
      const next: ScimCursor = { ...cursor, since: new Date(started).toISOString(), groups: totals.groups, users: totals.users, nestedOnly: totals.nestedOnly };
      version = storedOver(this.reads, this.id, base.version, () => this.reads.apply(this.id, changes, { at: next.since, cursor: JSON.stringify(next) }));
    }
    this.log.info(
      {
        groups: changes?.groups.length,
        deletedGroups: changes?.deletedGroups.length,
        users: changes?.users.length,
        deletedUsers: changes?.deletedUsers.length,
        stored: changes !== undefined,
      },
      'SCIM incremental read',
    );
    return { ...read.result, version };
  }

  private async crawl(ctx: ScimContext, spc: { maxResults: number; filtering: boolean | undefined }, started: number): Promise<SourceResult> {
    const since = new Date(started).toISOString();
    const read = await crawl(ctx, spc.maxResults, since);
    if (read.whole) {
      const { groups, users, totals, nestedOnly } = read.whole;
      // with a full crawl every time there is nothing to ask
      const lastModified = durationMs(this.config.fullReadEvery) === 0 ? 'unsupported' : await probeLastModified(ctx, spc.filtering, totals);
      const cursor: ScimCursor = { v: 1, since, scope: scopeOf(this.config), lastModified, ...totals, nestedOnly };
      const version = storedOver(this.reads, this.id, undefined, () =>
        this.reads.replace(this.id, { groups, users }, { at: cursor.since, cursor: JSON.stringify(cursor) }),
      );
      this.log.info({ groups: totals.groups, users: totals.users, lastModified }, 'SCIM full crawl stored');
      return { ...read.result, version };
    }
    return { ...read.result, version: null };
  }
}

export const scimSource = {
  type: 'scim',
  create: (config: ScimSourceConfig, ctx: SourceContext) => new ScimPullSource(config, ctx),
} satisfies SourceAdapter<ScimSourceConfig>;
