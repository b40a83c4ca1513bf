import express, { type NextFunction, type Request, type Response } from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import SCIMMYRouters, { SCIMMY } from 'scimmy-routers';
import type { SampleDirectory, SampleGroup, SampleUser } from '../directory.js';
import { declareResources, groupResource, invalidFilter, userResource, type Ctx } from './resources.js';

/**
 * A fault: requests matching `path` (and the query values given) get `status` or a delay; on a
 * listing (GET /Users, /Groups) also an empty page or a false totalResults.
 */
export interface ScimFault {
  method?: string;
  /** exact path under /scim/v2, or a RegExp */
  path: string | RegExp;
  query?: Record<string, string>;
  status?: number;
  delayMs?: number;
  /** how many matching requests it hits (default: all) */
  times?: number;
  /** a listing page answered with no Resources, its totalResults still the true one */
  emptyPage?: boolean;
  /** a listing page answered with this totalResults instead of the true one */
  totalResults?: number;
  /** sent with `status` as Retry-After (seconds), as a provider that throttles does */
  retryAfter?: string;
}

/** a listing page as it was sent, given to the `onPage` hooks */
export interface ServedPage {
  resource: 'Users' | 'Groups';
  startIndex: number;
  ids: string[];
  totalResults: number;
}

export interface ScimSandboxOptions {
  directory: SampleDirectory;
  auth?: { type: 'bearer'; token: string } | { type: 'basic'; username: string; password: string } | { type: 'oauth2'; clientId: string; clientSecret: string };
  /** ServiceProviderConfig filter.maxResults: larger `count`s are capped */
  maxResults?: number;
  /** at most this many resources per page whatever `count` asks, not advertised (as some providers do) */
  maxPageSize?: number;
  /** how a filter on meta.lastModified is met (default: supported) */
  lastModifiedFilter?: LastModifiedFilter;
  /** the provider's clock, which stamps meta.lastModified (default: Date.now) */
  clock?: () => number;
}

/**
 * How the provider meets a filter on `meta.lastModified` (RFC 7644 §3.4.2.2): `supported`;
 * `refused` with 400 invalidFilter, as providers that filter only with `eq` do; `ignored`, the
 * whole filter dropped and everything listed, as a provider that does not check what it was asked.
 */
export type LastModifiedFilter = 'supported' | 'refused' | 'ignored';

/**
 * A SCIM 2.0 service provider (scimmy + scimmy-routers on Express) serving a directory that a test
 * or the demo can change while it runs. It shares no code with convsync's SCIM client.
 */
export class ScimSandbox {
  readonly users = new Map<string, SampleUser & { lastModified: string }>();
  readonly groups = new Map<string, SampleGroup & { lastModified: string }>();
  readonly faults: ScimFault[] = [];
  readonly requests: { method: string; path: string; query: string; status: number }[] = [];
  /** changeable while it runs, like the directory */
  maxPageSize: number | undefined;
  lastModifiedFilter: LastModifiedFilter;
  private readonly pageHooks = new Set<(page: ServedPage) => void>();
  private server: Server | undefined;
  private readonly tokens = new Set<string>();
  url = '';

  private constructor(private readonly opts: ScimSandboxOptions) {
    for (const u of opts.directory.users) this.users.set(u.id, { ...u, lastModified: this.now() });
    for (const g of opts.directory.groups) this.groups.set(g.id, { ...g, members: [...g.members], lastModified: this.now() });
    this.maxPageSize = opts.maxPageSize;
    this.lastModifiedFilter = opts.lastModifiedFilter ?? 'supported';
  }

  static async start(opts: ScimSandboxOptions): Promise<ScimSandbox> {
    const sandbox = new ScimSandbox(opts);
    await sandbox.listen();
    return sandbox;
  }

  get baseUrl(): string {
    return `${this.url}/scim/v2`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
  }

  // ---- changes a test or the demo makes ----------------------------------------------------

  addUser(user: SampleUser): void {
    this.users.set(user.id, { ...user, lastModified: this.now() });
  }

  updateUser(id: string, change: Partial<Omit<SampleUser, 'id'>>): void {
    const u = this.users.get(id);
    if (!u) throw new Error(`no user ${id}`);
    Object.assign(u, change, { lastModified: this.now() });
  }

  /** a user deleted; like a provider, it leaves the groups that listed it, and they count as modified unless `touchGroups: false` */
  deleteUser(id: string, opts: { touchGroups?: boolean } = {}): void {
    this.users.delete(id);
    for (const g of this.groups.values()) {
      if (!g.members.some((m) => m.value === id)) continue;
      g.members = g.members.filter((m) => m.value !== id);
      if (opts.touchGroups !== false) g.lastModified = this.now();
    }
  }

  /**
   * A resource's meta.lastModified set back to `iso`: a change that a replica applied late, or a
   * provider that stamps changes with the time they were made elsewhere. An incremental read misses it.
   */
  backdate(resource: 'Users' | 'Groups', id: string, iso: string): void {
    const r = resource === 'Users' ? this.users.get(id) : this.groups.get(id);
    if (!r) throw new Error(`no ${resource} ${id}`);
    r.lastModified = iso;
  }

  addGroup(group: SampleGroup): void {
    this.groups.set(group.id, { ...group, members: [...group.members], lastModified: this.now() });
  }

  deleteGroup(id: string): void {
    this.groups.delete(id);
  }

  renameGroup(id: string, displayName: string): void {
    this.touchGroup(id).displayName = displayName;
  }

  addMember(groupId: string, value: string, type: 'User' | 'Group' = 'User'): void {
    const g = this.touchGroup(groupId);
    if (!g.members.some((m) => m.value === value)) g.members.push({ value, type });
  }

  removeMember(groupId: string, value: string): void {
    const g = this.touchGroup(groupId);
    g.members = g.members.filter((m) => m.value !== value);
  }

  /**
   * `hook` runs once each listing page has been sent, before the next request is served: a test
   * changes the directory between pages there, as a provider's admin would mid-crawl. Returns its remover.
   */
  onPage(hook: (page: ServedPage) => void): () => void {
    this.pageHooks.add(hook);
    return () => this.pageHooks.delete(hook);
  }

  /**
   * Deletes group `id` once the /Groups page at `afterStartIndex` has been sent (once). When `id` was
   * on a page already sent, the later pages shift by one and a group is never listed.
   */
  deleteGroupDuringCrawl(id: string, afterStartIndex = 1): void {
    const off = this.onPage((p) => {
      if (p.resource !== 'Groups' || p.startIndex !== afterStartIndex) return;
      off();
      this.deleteGroup(id);
    });
  }

  private now(): string {
    return new Date((this.opts.clock ?? Date.now)()).toISOString();
  }

  private touchGroup(id: string) {
    const g = this.groups.get(id);
    if (!g) throw new Error(`no group ${id}`);
    g.lastModified = this.now();
    return g;
  }

  // ---- server ---------------------------------------------------------------------------------

  private async listen(): Promise<void> {
    declareResources();
    SCIMMY.Config.set({ filter: { supported: true, maxResults: this.opts.maxResults ?? 200 }, patch: { supported: true } });
    const app = express();
    app.disable('x-powered-by');
    app.use((req, res, next) => this.record(req, res, next));
    app.use((req, res, next) => void this.injectFaults(req, res, next));
    app.post('/oauth/token', express.urlencoded({ extended: false }), (req, res) => this.issueToken(req, res));
    app.use((req, _res, next) => this.capCount(req, next));
    app.get(['/scim/v2/Users', '/scim/v2/Groups'], (req, res, next) => this.listPage(req, res, next));
    app.get('/scim/v2/Groups/:id', (req, res, next) => this.groupWithMembers(req, res, next));
    app.use(
      '/scim/v2',
      new SCIMMYRouters({
        type: this.opts.auth?.type === 'basic' ? 'basic' : 'bearer',
        docUri: 'https://datatracker.ietf.org/doc/html/rfc7644#section-2',
        handler: (req) => this.authenticate(req),
        context: (): Ctx => ({ dir: this }),
      }) as unknown as express.Router,
    );
    await new Promise<void>((resolve) => {
      this.server = app.listen(0, '127.0.0.1', () => resolve());
    });
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  private record(req: Request, res: Response, next: NextFunction): void {
    // taken now: routers mounted below rewrite req.url while they run
    const [path = '', query = ''] = req.originalUrl.split('?');
    res.on('finish', () => this.requests.push({ method: req.method, path, query, status: res.statusCode }));
    next();
  }

  private async injectFaults(req: Request, res: Response, next: NextFunction): Promise<void> {
    const path = req.path.replace(/^\/scim\/v2/, '');
    const fault = this.faults.find(
      (f) =>
        (f.times ?? Infinity) > 0 &&
        (f.method === undefined || f.method === req.method) &&
        (typeof f.path === 'string' ? f.path === path : f.path.test(path)) &&
        Object.entries(f.query ?? {}).every(([k, v]) => String(req.query[k]) === v),
    );
    if (!fault) return next();
    if (fault.times !== undefined) fault.times--;
    if (fault.delayMs) await sleep(fault.delayMs);
    if (fault.status) {
      if (fault.retryAfter !== undefined) res.setHeader('retry-after', fault.retryAfter);
      res.status(fault.status).type('text/plain').send(`injected fault ${fault.status}`);
      return;
    }
    // shapes the page listPage makes
    if (fault.emptyPage || fault.totalResults !== undefined) res.locals.listingFault = fault;
    next();
  }

  /**
   * A listing: filtered by scimmy's own filter, then only the requested page coerced by scimmy's
   * schema. scimmy's router coerces every resource before it pages, which costs the directory's
   * size per page (quadratic in a paged read of 100,000 users). Anything unusual is left to it.
   */
  private listPage(req: Request, res: Response, next: NextFunction): void {
    const users = req.path.endsWith('/Users');
    const Resource = users ? SCIMMY.Resources.User : SCIMMY.Resources.Group;
    let page: unknown[];
    let total: number;
    let startIndex: number;
    try {
      this.authenticate(req);
      const q = req.query as Record<string, unknown>;
      if (q.sortBy !== undefined) return next();
      if (typeof q.filter === 'string' && /meta\.lastModified/i.test(q.filter) && this.lastModifiedFilter !== 'supported') {
        if (this.lastModifiedFilter === 'ignored') delete q.filter;
        else {
          res
            .status(400)
            .type('application/scim+json')
            .send(JSON.stringify(invalidFilter(`filtering on meta.lastModified is not supported: ${q.filter}`)));
          return;
        }
      }
      const params = Object.fromEntries(['filter', 'attributes', 'excludedAttributes'].filter((k) => typeof q[k] === 'string').map((k) => [k, q[k]]));
      const resource = new Resource(params as never) as unknown as { filter?: { match(list: unknown[]): unknown[] }; attributes?: unknown };
      const source: (SampleUser | SampleGroup)[] = users ? [...this.users.values()] : [...this.groups.values()];
      // members left out before scimmy sees them: it would coerce each, then drop them
      const noMembers = typeof q.excludedAttributes === 'string' && q.excludedAttributes.split(',').some((a) => a.trim().toLowerCase() === 'members');
      const toResource = (x: SampleUser | SampleGroup) => {
        if (users) return userResource(x as never);
        const { members, ...rest } = groupResource(x as never);
        return noMembers ? rest : { ...rest, members };
      };
      // without a filter, only the page is made into resources
      const matched = resource.filter ? resource.filter.match(source.map(toResource)) : source;
      startIndex = Math.max(1, Number.parseInt(String(q.startIndex ?? '1'), 10) || 1);
      const asked = Math.max(0, Number.parseInt(String(q.count ?? this.opts.maxResults ?? 200), 10) || 0);
      const count = Math.min(asked, this.maxPageSize ?? Infinity);
      const Schema = users ? SCIMMY.Schemas.User : SCIMMY.Schemas.Group;
      page = matched
        .slice(startIndex - 1, startIndex - 1 + count)
        .map((r) => new Schema((resource.filter ? r : toResource(r as never)) as never, 'out', Resource.basepath() as string, resource.attributes as never));
      total = matched.length;
    } catch {
      // an unauthenticated or malformed request: scimmy answers it as it would
      return next();
    }
    const fault = res.locals.listingFault as ScimFault | undefined;
    if (fault?.emptyPage) page = [];
    if (fault?.totalResults !== undefined) total = fault.totalResults;
    res.type('application/scim+json').send(
      JSON.stringify({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
        totalResults: total,
        Resources: page,
        startIndex,
        itemsPerPage: page.length,
      }),
    );
    const served: ServedPage = {
      resource: users ? 'Users' : 'Groups',
      startIndex,
      ids: page.map((r) => String((r as { id?: unknown }).id)),
      totalResults: total,
    };
    for (const hook of [...this.pageHooks]) hook(served);
  }

  /** One group as scimmy makes it, with its members attached as they are: scimmy coerces members one by one, slowly */
  private groupWithMembers(req: Request, res: Response, next: NextFunction): void {
    const g = this.groups.get(req.params.id ?? '');
    if (!g || Object.keys(req.query).length > 0) return next();
    let body: Record<string, unknown>;
    try {
      this.authenticate(req);
      const { members, ...rest } = groupResource(g);
      body = { ...JSON.parse(JSON.stringify(new SCIMMY.Schemas.Group(rest, 'out', SCIMMY.Resources.Group.basepath() as string))), members };
    } catch {
      return next();
    }
    res.type('application/scim+json').send(JSON.stringify(body));
  }

  /** `count` above ServiceProviderConfig's maxResults is lowered to it, as providers do */
  private capCount(req: Request, next: NextFunction): void {
    const max = this.opts.maxResults ?? 200;
    const count = Number(req.query.count);
    if (Number.isInteger(count) && count > max) {
      // express 4 exposes query as a plain, writable object
      (req.query as Record<string, unknown>).count = String(max);
    }
    next();
  }

  private authenticate(req: Request): string {
    const auth = this.opts.auth;
    const header = req.header('authorization') ?? '';
    if (!auth) return 'sandbox';
    if (auth.type === 'bearer' && header === `Bearer ${auth.token}`) return 'sandbox';
    if (auth.type === 'basic' && header === `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`) return 'sandbox';
    if (auth.type === 'oauth2' && header.startsWith('Bearer ') && this.tokens.has(header.slice(7))) return 'sandbox';
    throw new Error('Authorization failure');
  }

  private issueToken(req: Request, res: Response): void {
    const auth = this.opts.auth;
    const basic = /^Basic (.+)$/.exec(req.header('authorization') ?? '');
    const [id, secret] = basic
      ? Buffer.from(basic[1]!, 'base64').toString().split(':').map(decodeURIComponent)
      : [req.body?.client_id, req.body?.client_secret];
    if (auth?.type !== 'oauth2' || req.body?.grant_type !== 'client_credentials' || id !== auth.clientId || secret !== auth.clientSecret) {
      res.status(401).json({ error: 'invalid_client' });
      return;
    }
    const token = `tok-${Math.random().toString(36).slice(2)}`;
    this.tokens.add(token);
    res.json({ access_token: token, token_type: 'Bearer', expires_in: 3600 });
  }
}
