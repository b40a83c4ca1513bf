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
      // scimmy checks the group; members, a hundred thousand in a large directory, are checked here:
      // scimmy's coercion of each costs more than the whole rest of the read
      const { members: rawMembers, ...rest } = raw;
      const g = new SCIMMY.Schemas.Group(rest, 'out') as unknown as { id?: string; displayName: string };
      if (typeof g.id !== 'string' || g.id === '') throw new Error('no id');
      const members = rawMembers === undefined ? undefined : parseMembers(rawMembers);
      return { id: g.id, displayName: g.displayName, ...(members ? { members } : {}) };
    } catch (e) {
      warnings.push(`source ${this.id}: a group was rejected (${(e as Error).message}): ${JSON.stringify(raw).slice(0, 120)}`);
      return undefined;
    }
  }

  private parseUser(raw: Record<string, unknown>, warnings: string[]): SourceUser | undefined {
    try {
      const u = parseUserFields(raw);
      if (u.id === undefined || u.id === '') throw new Error('no id');
      const emails = [...(u.emails ?? [])].sort((a, b) => Number(b.primary ?? false) - Number(a.primary ?? false)).map((e) => e.value);
      return {
        id: u.id,
        userName: u.userName,
        ...(u.externalId !== undefined ? { externalId: u.externalId } : {}),
        ...(u.displayName !== undefined ? { displayName: u.displayName } : {}),
        emails,
        active: u.active ?? true,
        // the raw resource keeps the attributes not read here (extension attributes)
        raw,
      };
    } catch (e) {
      warnings.push(`source ${this.id}: a user was rejected (${(e as Error).message}): ${JSON.stringify(raw).slice(0, 120)}`);
      return undefined;
    }
  }
}

/**
 * The User attributes convsync reads, checked as RFC 7643 §4.1 types them (the raw resource is
 * kept for the rest). By hand: scimmy's schema coercion of a hundred thousand users costs seconds.
 */
function parseUserFields(raw: Record<string, unknown>): { id?: string; userName: string; externalId?: string; displayName?: string; active?: boolean; emails?: { value: string; primary?: boolean }[] } {
  const optionalString = (name: string) => {
    const v = raw[name];
    if (v !== undefined && v !== null && typeof v !== 'string') throw new TypeError(`Attribute '${name}' expected to be a string`);
    return typeof v === 'string' ? v : undefined;
  };
  const userName = optionalString('userName');
  if (userName === undefined || userName === '') throw new TypeError("Required attribute 'userName' is missing");
  const active = raw.active;
  if (active !== undefined && active !== null && typeof active !== 'boolean') throw new TypeError("Attribute 'active' expected to be a boolean");
  const emails = raw.emails;
  if (emails !== undefined && emails !== null && !Array.isArray(emails)) throw new TypeError("Attribute 'emails' expected to be an array");
  const parsed = ((emails ?? []) as unknown[]).map((e) => {
    const { value, primary } = (typeof e === 'object' && e !== null ? e : {}) as { value?: unknown; primary?: unknown };
    if (typeof value !== 'string') throw new TypeError("Attribute 'value' of 'emails' expected to be a string");
    if (primary !== undefined && typeof primary !== 'boolean') throw new TypeError("Attribute 'primary' of 'emails' expected to be a boolean");
    return { value, ...(primary !== undefined ? { primary } : {}) };
  });
  const id = optionalString('id');
  const externalId = optionalString('externalId');
  const displayName = optionalString('displayName');
  return {
    ...(id !== undefined ? { id } : {}),
    userName,
    ...(externalId !== undefined ? { externalId } : {}),
    ...(displayName !== undefined ? { displayName } : {}),
    ...(typeof active === 'boolean' ? { active } : {}),
    emails: parsed,
  };
}

/** RFC 7643 §4.2 members: `value` required; `type` "User" or "Group" when given */
function parseMembers(list: unknown): ScimMember[] {
  if (!Array.isArray(list)) throw new TypeError("Expected 'members' to be an array");
  return list.map((m: unknown) => {
    const { value, type } = (typeof m === 'object' && m !== null ? m : {}) as { value?: unknown; type?: unknown };
    if (typeof value !== 'string' || value === '') throw new TypeError("Required attribute 'value' of 'members' is missing or not a string");
    if (type === undefined) return { value };
    const t = typeof type === 'string' ? type.toLowerCase() : '';
    if (t !== 'user' && t !== 'group') throw new TypeError(`Attribute 'type' of 'members' must be User or Group, not ${JSON.stringify(type)}`);
    return { value, type: t === 'user' ? 'User' : 'Group' };
  });
}

export const scimSource = {
  type: 'scim',
  create: (config: ScimSourceConfig, ctx: SourceContext) => new ScimPullSource(config, ctx),
} satisfies SourceAdapter<ScimSourceConfig>;
