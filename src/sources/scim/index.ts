import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { ScimSourceConfig } from '../../config/schema.js';
import { AuthError, describeError } from '../../errors.js';
import { runPool } from '../../pool.js';
import type { DesiredGroup, Source, SourceAdapter, SourceContext, SourceResult, SourceUser } from '../types.js';
import { ScimClient } from './client.js';
import { listAll } from './listing.js';
import { MemberResolver, readGroup } from './members.js';
import { parseGroup, parseUser, type ScimGroup } from './parse.js';

/** what reading each listed group's members found */
interface MemberReads {
  /** group id → why its members are unknown */
  failures: Map<string, string>;
  /** listed, then 404 when read */
  vanished: Set<string>;
}

/**
 * SCIM 2.0 pull, in stages: ServiceProviderConfig; groups listed without members (complete only
 * when what came matches totalResults); users listed; each group's members read on its own; users
 * resolved and nested groups expanded. Anything that could not be read makes what it touches
 * *unknown*, never gone.
 */
class ScimPullSource implements Source {
  readonly id: string;
  private readonly client: ScimClient;
  private readonly log: Logger;

  constructor(
    private readonly config: ScimSourceConfig,
    ctx: { dispatcher?: Dispatcher; logger: Logger },
  ) {
    this.id = config.name;
    this.log = ctx.logger.child({ source: config.name });
    this.client = new ScimClient({
      origin: `scim:${config.name}`,
      baseUrl: config.baseUrl,
      auth: config.auth,
      timeoutMs: config.timeoutMs,
      retry: { maxAttempts: config.maxAttempts, baseDelayMs: 200, maxDelayMs: 5000 },
      ...(ctx.dispatcher ? { dispatcher: ctx.dispatcher } : {}),
    });
  }

  async fetch(signal: AbortSignal): Promise<SourceResult> {
    const warnings: string[] = [];
    const maxResults = await this.maxResults(signal, warnings);
    const listing = await this.listGroups(Math.min(this.config.groups.pageSize, maxResults), signal, warnings);
    const users = await this.listUsers(Math.min(this.config.users.pageSize, maxResults), signal, warnings);
    const { groups } = listing;
    const reads = await this.readMembers(groups, signal, warnings);

    // a group gone between the listing and its read may have shifted the pages: the listing can have
    // skipped another group, so the vanished one is left out and the listing does not count as whole
    for (const id of reads.vanished) {
      warnings.push(
        `source ${this.id}: group ${id} ("${groups.get(id)?.displayName}") was listed, then answered 404 when its members were read: ` +
          'it vanished during the crawl, and index-based paging may have skipped another group, so the listing counts as incomplete',
      );
      groups.delete(id);
    }
    const resolver = new MemberResolver({ source: this.id, client: this.client, expandNested: this.config.expandNested, groups, vanished: reads.vanished, users, warnings, signal });
    const out: DesiredGroup[] = [];
    for (const g of [...groups.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      const failure = reads.failures.get(g.id);
      if (failure) out.push({ key: `${this.id}:${g.id}`, source: this.id, id: g.id, displayName: g.displayName, members: [], complete: false, unknownReason: failure });
      else out.push(await resolver.desiredGroup(g));
    }

    const listingComplete = listing.complete && reads.vanished.size === 0;
    if (!listingComplete) {
      const counts = listing.total === undefined ? 'no page could be read' : `${listing.received} distinct group(s) received, totalResults ${listing.total}`;
      warnings.push(`source ${this.id}: the group listing was incomplete (${counts}); groups it did not list are unknown, not gone: none is unbound or emptied in this run`);
      this.log.warn({ received: listing.received, totalResults: listing.total, vanished: [...reads.vanished] }, 'SCIM group listing incomplete');
    }
    return { source: this.id, groups: out, listingComplete, warnings };
  }

  private async maxResults(signal: AbortSignal, warnings: string[]): Promise<number> {
    try {
      const spc = (await this.client.get('/ServiceProviderConfig', {}, signal)) as { filter?: { maxResults?: unknown } } | undefined;
      const max = spc?.filter?.maxResults;
      return typeof max === 'number' && max > 0 ? max : Infinity;
    } catch (e) {
      if (e instanceof AuthError) throw e;
      warnings.push(`source ${this.id}: ServiceProviderConfig unreadable (${describeError(e)}); using the configured page sizes`);
      return Infinity;
    }
  }

  private async listGroups(count: number, signal: AbortSignal, warnings: string[]) {
    const query = { excludedAttributes: 'members', filter: this.config.groups.filter };
    const listing = await listAll(this.client, { label: `source ${this.id}: /Groups`, path: '/Groups', count, query }, signal);
    this.report(listing.problems, warnings);
    const groups = new Map<string, ScimGroup>();
    let complete = listing.complete;
    for (const raw of listing.resources) {
      const g = parseGroup(this.id, raw, warnings);
      if (g) groups.set(g.id, g);
      else complete = false;
    }
    return { groups, complete, received: listing.received, total: listing.total };
  }

  private async listUsers(count: number, signal: AbortSignal, warnings: string[]): Promise<Map<string, SourceUser>> {
    const listing = await listAll(this.client, { label: `source ${this.id}: /Users`, path: '/Users', count, query: {} }, signal);
    this.report(listing.problems, warnings);
    const users = new Map<string, SourceUser>();
    for (const raw of listing.resources) {
      const u = parseUser(this.id, raw, warnings);
      if (u) users.set(u.id, u);
    }
    // members the listing missed are read one by one (MemberResolver), so groups stay exact
    if (!listing.complete) warnings.push(`source ${this.id}: the user listing was incomplete; missing members are read one by one`);
    return users;
  }

  /** members of every listed group, read one group at a time (the listing excluded them) */
  private async readMembers(groups: Map<string, ScimGroup>, signal: AbortSignal, warnings: string[]): Promise<MemberReads> {
    const reads: MemberReads = { failures: new Map(), vanished: new Set() };
    await runPool([...groups.values()], this.config.concurrency, async (g) => {
      try {
        const full = await readGroup(this.client, this.id, g.id, signal, warnings);
        if (full) g.members = full.members ?? [];
        else reads.vanished.add(g.id);
      } catch (e) {
        if (e instanceof AuthError) throw e;
        reads.failures.set(g.id, `its members could not be read (${describeError(e)})`);
      }
    });
    return reads;
  }

  private report(problems: string[], warnings: string[]): void {
    for (const p of problems) this.log.warn(p);
    warnings.push(...problems);
  }
}

export const scimSource = {
  type: 'scim',
  create: (config: ScimSourceConfig, ctx: SourceContext) => new ScimPullSource(config, ctx),
} satisfies SourceAdapter<ScimSourceConfig>;
