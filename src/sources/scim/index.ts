import SCIMMY from 'scimmy';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { ScimSourceConfig } from '../../config/schema.js';
import { AuthError, describeError } from '../../errors.js';
import { runPool } from '../../pool.js';
import type { DesiredGroup, Source, SourceAdapter, SourceContext, SourceResult, SourceUser } from '../types.js';
import { ScimClient } from './client.js';

interface ScimMember {
  value: string;
  type?: string;
}

interface ScimGroup {
  id: string;
  displayName: string;
  members?: ScimMember[];
}

interface Page {
  resources: Record<string, unknown>[];
  total: number;
  itemsPerPage: number;
}

/**
 * SCIM 2.0 pull: ServiceProviderConfig, groups listed without members and paged by
 * startIndex/count, each group's members read on its own, users listed and resolved, nested groups
 * expanded without looping. Anything that could not be read makes the groups it touches *unknown*.
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

    const listed = await this.list('/Groups', Math.min(this.config.groups.pageSize, maxResults), signal, warnings, {
      excludedAttributes: 'members',
      filter: this.config.groups.filter,
    });
    const groups = new Map<string, ScimGroup>();
    for (const raw of listed.resources) {
      const g = this.parseGroup(raw, warnings);
      if (g) groups.set(g.id, g);
      else listed.complete = false;
    }

    const users = await this.list('/Users', Math.min(this.config.users.pageSize, maxResults), signal, warnings, {});
    const userById = new Map<string, SourceUser>();
    for (const raw of users.resources) {
      const u = this.parseUser(raw, warnings);
      if (u) userById.set(u.id, u);
    }

    // members of every listed group, read one group at a time (listing excluded them)
    const memberFailures = new Map<string, string>();
    const nested = new Map<string, ScimGroup | undefined>();
    await runPool([...groups.values()], this.config.concurrency, async (g) => {
      try {
        const full = await this.readGroup(g.id, signal, warnings);
        if (full) g.members = full.members ?? [];
        else memberFailures.set(g.id, 'the group disappeared while it was being read');
      } catch (e) {
        if (e instanceof AuthError) throw e;
        memberFailures.set(g.id, `its members could not be read (${describeError(e)})`);
      }
    });

    const resolveUser = async (id: string): Promise<SourceUser | 'missing' | 'failed'> => {
      const known = userById.get(id);
      if (known) return known;
      try {
        const raw = await this.client.get(`/Users/${encodeURIComponent(id)}`, {}, signal);
        const u = raw === undefined ? undefined : this.parseUser(raw as Record<string, unknown>, warnings);
        if (!u) return 'missing';
        userById.set(u.id, u);
        return u;
      } catch (e) {
        if (e instanceof AuthError) throw e;
        return 'failed';
      }
    };

    const out: DesiredGroup[] = [];
    for (const g of [...groups.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      const group: DesiredGroup = { key: `${this.id}:${g.id}`, source: this.id, id: g.id, displayName: g.displayName, members: [], complete: true };
      const failure = memberFailures.get(g.id);
      if (failure) {
        group.complete = false;
        group.unknownReason = failure;
        out.push(group);
        continue;
      }
      const members = new Map<string, SourceUser>();
      const visited = new Set<string>([g.id]);
      const queue: ScimMember[] = [...(g.members ?? [])];
      let dangling = 0;
      for (let i = 0; i < queue.length; i++) {
        const m = queue[i]!;
        const isGroup = m.type === 'Group' || (m.type === undefined && groups.has(m.value) && !userById.has(m.value));
        if (isGroup) {
          if (!this.config.expandNested || visited.has(m.value)) continue;
          visited.add(m.value);
          const inner = await this.nestedGroup(m.value, groups, nested, signal, warnings);
          if (inner === 'failed') {
            group.complete = false;
            group.unknownReason = `nested group ${m.value} could not be read`;
          } else if (inner) queue.push(...(inner.members ?? []));
          continue;
        }
        const user = await resolveUser(m.value);
        if (user === 'failed') {
          group.complete = false;
          group.unknownReason = `member ${m.value} could not be resolved through /Users`;
        } else if (user === 'missing') dangling++;
        else members.set(user.id, user);
      }
      if (dangling > 0) warnings.push(`${group.key} ("${g.displayName}") lists ${dangling} member(s) that /Users does not know: left out`);
      group.members = [...members.values()];
      out.push(group);
    }

    if (!users.complete) {
      // a user page failed: resolveUser fetched missing users one by one, so groups stay exact
      warnings.push(`source ${this.id}: the user listing was incomplete; missing members were read one by one`);
    }
    if (!listed.complete) warnings.push(`source ${this.id}: the group listing was incomplete; groups not listed are treated as unknown`);
    return { source: this.id, groups: out, listingComplete: listed.complete, warnings };
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

  /** every page of a list; a page that cannot be read is skipped and marks the listing incomplete */
  private async list(
    path: string,
    count: number,
    signal: AbortSignal,
    warnings: string[],
    query: Record<string, string | undefined>,
  ): Promise<{ resources: Record<string, unknown>[]; complete: boolean }> {
    const resources: Record<string, unknown>[] = [];
    const seen = new Set<string>();
    let complete = true;
    let startIndex = 1;
    let total = Infinity;
    while (startIndex <= total) {
      let page: Page;
      try {
        page = this.parseList(await this.client.get(path, { ...query, startIndex, count }, signal), path);
      } catch (e) {
        if (e instanceof AuthError) throw e;
        complete = false;
        warnings.push(`source ${this.id}: ${path} page at startIndex ${startIndex} failed: ${describeError(e)}`);
        this.log.warn({ path, startIndex, err: describeError(e) }, 'SCIM page failed');
        if (total === Infinity) break;
        startIndex += count;
        continue;
      }
      total = page.total;
      for (const r of page.resources) {
        // paging is not stateful: a shifting listing may repeat an item
        const id = typeof r.id === 'string' ? r.id : undefined;
        if (id !== undefined && seen.has(id)) continue;
        if (id !== undefined) seen.add(id);
        resources.push(r);
      }
      if (page.resources.length === 0) break;
      startIndex += page.itemsPerPage > 0 ? page.itemsPerPage : page.resources.length;
    }
    return { resources, complete };
  }

  private parseList(body: unknown, path: string): Page {
    if (body === undefined) throw new Error(`${path} answered 404`);
    let list: { Resources?: unknown[]; totalResults: unknown; itemsPerPage?: unknown };
    try {
      // scimmy's types describe the outbound use; inbound parsing takes the raw body
      list = new SCIMMY.Messages.ListResponse(body as never) as unknown as typeof list;
    } catch (e) {
      throw new Error(`${path}: not a SCIM ListResponse (${(e as Error).message})`);
    }
    const resources = (list.Resources ?? []) as Record<string, unknown>[];
    return { resources, total: Number(list.totalResults), itemsPerPage: Number(list.itemsPerPage ?? resources.length) };
  }

  private async readGroup(id: string, signal: AbortSignal, warnings: string[]): Promise<ScimGroup | undefined> {
    const raw = await this.client.get(`/Groups/${encodeURIComponent(id)}`, {}, signal);
    if (raw === undefined) return undefined;
    const g = this.parseGroup(raw as Record<string, unknown>, warnings);
    if (!g) throw new Error(`group ${id} is not a valid SCIM Group`);
    return g;
  }

  private async nestedGroup(
    id: string,
    listed: Map<string, ScimGroup>,
    cache: Map<string, ScimGroup | undefined>,
    signal: AbortSignal,
    warnings: string[],
  ): Promise<ScimGroup | undefined | 'failed'> {
    const known = listed.get(id);
    if (known?.members) return known;
    if (cache.has(id)) return cache.get(id);
    try {
      const g = await this.readGroup(id, signal, warnings);
      cache.set(id, g);
      return g;
    } catch (e) {
      if (e instanceof AuthError) throw e;
      return 'failed';
    }
  }

  private parseGroup(raw: Record<string, unknown>, warnings: string[]): ScimGroup | undefined {
    try {
      const g = new SCIMMY.Schemas.Group(raw, 'out') as unknown as { id?: string; displayName: string; members?: ScimMember[] };
      if (typeof g.id !== 'string' || g.id === '') throw new Error('no id');
      return { id: g.id, displayName: g.displayName, ...(g.members ? { members: g.members } : {}) };
    } catch (e) {
      warnings.push(`source ${this.id}: a group was rejected (${(e as Error).message}): ${JSON.stringify(raw).slice(0, 120)}`);
      return undefined;
    }
  }

  private parseUser(raw: Record<string, unknown>, warnings: string[]): SourceUser | undefined {
    try {
      const u = new SCIMMY.Schemas.User(raw, 'out') as unknown as {
        id?: string;
        userName: string;
        externalId?: string;
        displayName?: string;
        active?: boolean;
        emails?: { value: string; primary?: boolean }[];
      };
      if (typeof u.id !== 'string' || u.id === '') throw new Error('no id');
      const emails = [...(u.emails ?? [])].sort((a, b) => Number(b.primary ?? false) - Number(a.primary ?? false)).map((e) => e.value);
      return {
        id: u.id,
        userName: u.userName,
        ...(u.externalId !== undefined ? { externalId: u.externalId } : {}),
        ...(u.displayName !== undefined ? { displayName: u.displayName } : {}),
        emails,
        active: u.active ?? true,
        // the raw resource keeps extension attributes scimmy does not know
        raw,
      };
    } catch (e) {
      warnings.push(`source ${this.id}: a user was rejected (${(e as Error).message}): ${JSON.stringify(raw).slice(0, 120)}`);
      return undefined;
    }
  }
}

export const scimSource = {
  type: 'scim',
  create: (config: ScimSourceConfig, ctx: SourceContext) => new ScimPullSource(config, ctx),
} satisfies SourceAdapter<ScimSourceConfig>;
