import { randomUUID } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import SCIMMYRouters, { SCIMMY } from 'scimmy-routers';
import type { ScimPushSourceConfig } from '../config/schema.js';
import { readSecret } from '../config/secrets.js';
import type { Store } from '../store/store.js';
import type { PushGroup, PushUser } from '../store/push.js';
import { bearerMatches } from './auth.js';

export interface ScimPushDeps {
  sources: ScimPushSourceConfig[];
  store: Store;
  logger: Logger;
  maxBodyBytes: number;
  /** group keys (`<source>:<group id>`) whose membership or name changed */
  onChange: (groupKeys: string[]) => void;
  onRequest?: (method: string, status: number) => void;
}

interface Ctx {
  store: Store;
  source: string;
  changed: (groupIds: string[]) => void;
}

const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

const scimError = (status: number, scimType: string | null | undefined, detail: string) => new SCIMMY.Types.Error(status, (scimType ?? null) as never, detail);

function sendError(res: Response, status: number, detail: string, scimType?: string): void {
  res
    .status(status)
    .type('application/scim+json')
    .send({ schemas: [ERROR_SCHEMA], status: String(status), ...(scimType ? { scimType } : {}), detail });
}

/**
 * Serves each `scim-push` source as a SCIM 2.0 service provider (scimmy + scimmy-routers) for
 * Entra ID and Okta. Group membership PATCHes are applied here as deltas on the store's rows and
 * answered 204: scimmy's own PATCH rewrites the whole group, which costs the size of the group.
 */
export function mountScimPush(app: Express, deps: ScimPushDeps): void {
  declareResources();
  for (const source of deps.sources) {
    const path = source.path;
    const changed = (groupIds: string[]) => {
      if (groupIds.length > 0) deps.onChange([...new Set(groupIds)].map((g) => `${source.name}:${g}`));
    };
    const ctx: Ctx = { store: deps.store, source: source.name, changed };
    const router = express.Router();
    router.use((req, res, next) => {
      res.on('finish', () => deps.onRequest?.(req.method, res.statusCode));
      next();
    });
    router.use((req, res, next) => {
      let token: string;
      try {
        token = readSecret(source, 'token');
      } catch (e) {
        deps.logger.error({ source: source.name, err: (e as Error).message }, 'SCIM push token unreadable');
        sendError(res, 500, 'the service provider is not configured');
        return;
      }
      // a token in the query string is not accepted: it would end up in access logs
      if (!bearerMatches(req.header('authorization'), token)) {
        res.set('www-authenticate', 'Bearer');
        sendError(res, 401, 'a valid bearer token is required in the Authorization header');
        return;
      }
      next();
    });
    router.use(express.json({ type: ['application/scim+json', 'application/json'], limit: deps.maxBodyBytes }));
    router.use(normalizeEntraBooleans);
    router.patch('/Groups/:id', (req, res) => handle(res, () => patchGroup(ctx, req.params.id!, req.body)));
    router.get('/Groups', (req, res, next) => {
      const filter = typeof req.query.filter === 'string' ? req.query.filter : '';
      if (!/\bmembers\b/i.test(filter)) return next();
      handle(res, () => membershipCheck(ctx, filter));
    });
    router.use(
      new SCIMMYRouters({
        type: 'bearer',
        docUri: 'https://datatracker.ietf.org/doc/html/rfc6750',
        // authentication ran above, before the body was read
        handler: () => 'scim-push',
        context: (): Ctx => ctx,
      }) as unknown as express.Router,
    );
    router.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
      if (err.type === 'entity.too.large') sendError(res, 413, `the request body is larger than ${deps.maxBodyBytes} bytes`, 'tooLarge');
      else if (err.type === 'entity.parse.failed') sendError(res, 400, `the request body is not valid JSON: ${err.message}`, 'invalidSyntax');
      else {
        deps.logger.error({ source: source.name, err: err.message }, 'SCIM push request failed');
        sendError(res, err.status ?? 500, err.status && err.status < 500 ? err.message : 'internal error');
      }
    });
    app.use(path, router);
  }
  // after the routers: their constructor writes its own defaults (bulk on, sort on)
  SCIMMY.Config.set({
    patch: { supported: true },
    filter: { supported: true, maxResults: 200 },
    bulk: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    changePassword: { supported: false },
  });
}

function handle(res: Response, fn: () => { status: number; body?: unknown }): void {
  try {
    const out = fn();
    res.status(out.status).type('application/scim+json');
    if (out.body === undefined) res.end();
    else res.send(out.body);
  } catch (e) {
    if (e instanceof SCIMMY.Types.Error) {
      const err = e as unknown as { status: number; scimType?: string; message: string };
      sendError(res, err.status, err.message, err.scimType);
    } else throw e;
  }
}

/** Entra (without ?aadOptscim062020) sends `"active": "False"`: booleans as strings. */
function normalizeEntraBooleans(req: Request, _res: Response, next: NextFunction): void {
  const fix = (v: unknown): unknown => (typeof v === 'string' && /^(true|false)$/i.test(v) ? v.toLowerCase() === 'true' : v);
  const body = req.body as { active?: unknown; Operations?: { path?: unknown; value?: unknown }[] } | undefined;
  if (body && typeof body === 'object') {
    if ('active' in body) body.active = fix(body.active);
    for (const op of Array.isArray(body.Operations) ? body.Operations : []) {
      if (typeof op?.path === 'string' && op.path.toLowerCase() === 'active') op.value = fix(op.value);
      else if (op?.value && typeof op.value === 'object' && 'active' in op.value) {
        (op.value as { active: unknown }).active = fix((op.value as { active: unknown }).active);
      }
    }
  }
  next();
}

// ---- groups: membership deltas --------------------------------------------------------------

interface PatchOperation {
  op: string;
  path?: string;
  value?: unknown;
}

function patchGroup(ctx: Ctx, id: string, body: unknown): { status: number } {
  let ops: PatchOperation[];
  try {
    // validates the message (schemas, op names, value/path rules) and lower-cases Entra's "Add"
    ops = (new SCIMMY.Messages.PatchOp(body as never) as unknown as { Operations: PatchOperation[] }).Operations;
  } catch (e) {
    const err = e as { status?: number; scimType?: string; message: string };
    throw scimError(err.status ?? 400, err.scimType ?? 'invalidSyntax', err.message);
  }
  const { store, source } = ctx;
  const push = store.push;
  push.transaction(() => {
    const group = push.group(source, id);
    if (!group) throw scimError(404, undefined, `Resource ${id} not found`);
    let displayName = group.displayName;
    let externalId = group.externalId;
    for (const op of ops) {
      const kind = op.op.toLowerCase();
      const path = op.path?.trim();
      const filtered = path ? /^members\[\s*value\s+eq\s+"([^"]+)"\s*\]$/i.exec(path) : null;
      if (path && /^members$/i.test(path)) {
        const ids = memberIds(op.value, kind !== 'remove');
        if (kind === 'add') push.addMembers(source, id, checkMembers(ctx, ids));
        else if (kind === 'replace') push.replaceMembers(source, id, checkMembers(ctx, ids));
        // Entra's remove with a value array removes only those members; without a value, all of them
        else if (op.value === undefined) push.replaceMembers(source, id, []);
        else push.removeMembers(source, id, ids);
      } else if (filtered) {
        if (kind !== 'remove') throw scimError(400, 'invalidPath', `${op.op} is not supported on ${path}`);
        push.removeMembers(source, id, [filtered[1]!]);
      } else if (path && /^displayName$/i.test(path)) {
        displayName = requireString(op.value, 'displayName');
      } else if (path && /^externalId$/i.test(path)) {
        externalId = kind === 'remove' ? undefined : requireString(op.value, 'externalId');
      } else if (!path && (kind === 'replace' || kind === 'add')) {
        // path-less replace (Okta's rename, Entra's multi-attribute replace): an object of attributes
        const value = op.value as Record<string, unknown>;
        for (const [key, v] of Object.entries(value)) {
          const attr = key.replace(/^urn:ietf:params:scim:schemas:core:2\.0:Group:/i, '');
          if (/^displayName$/i.test(attr)) displayName = requireString(v, 'displayName');
          else if (/^externalId$/i.test(attr)) externalId = requireString(v, 'externalId');
          else if (/^members$/i.test(attr)) {
            const ids = checkMembers(ctx, memberIds(v, true));
            if (kind === 'add') push.addMembers(source, id, ids);
            else push.replaceMembers(source, id, ids);
          } else if (/^id$/i.test(attr)) {
            if (v !== id) throw scimError(400, 'mutability', 'id cannot be changed');
          } else throw scimError(400, 'invalidPath', `attribute ${key} is not supported on groups`);
        }
      } else throw scimError(400, 'invalidPath', `${op.op} with path ${path ?? '(none)'} is not supported on groups`);
    }
    if (displayName !== group.displayName) {
      const clash = push.groups(source).find((g) => g.id !== id && g.displayName === displayName);
      if (clash) throw scimError(409, 'uniqueness', `a group named "${displayName}" already exists`);
    }
    push.putGroup(source, { id, displayName, externalId }, new Date().toISOString());
  });
  ctx.changed(withAncestors(ctx, [id]));
  return { status: 204 };
}

function memberIds(value: unknown, required: boolean): string[] {
  if (value === undefined && !required) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((m) => {
    const v = typeof m === 'object' && m !== null ? (m as { value?: unknown }).value : undefined;
    if (typeof v !== 'string' || v === '') throw scimError(400, 'invalidValue', 'each member needs a "value" with the id of a User or Group');
    return v;
  });
}

function checkMembers(ctx: Ctx, ids: string[]): string[] {
  for (const id of ids) {
    if (!ctx.store.push.user(ctx.source, id) && !ctx.store.push.group(ctx.source, id)) {
      throw scimError(400, 'invalidValue', `member ${id} is not a known User or Group`);
    }
  }
  return ids;
}

function requireString(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw scimError(400, 'invalidValue', `${name} must be a non-empty string`);
  return v;
}

/** a change to a group (or a user) also changes every group that contains it */
function withAncestors(ctx: Ctx, ids: string[]): string[] {
  const seen = new Set<string>();
  const queue = [...ids];
  while (queue.length > 0) {
    const id = queue.shift()!;
    for (const parent of ctx.store.push.groupsOf(ctx.source, id)) {
      if (!seen.has(parent)) {
        seen.add(parent);
        queue.push(parent);
      }
    }
    if (ctx.store.push.group(ctx.source, id)) seen.add(id);
  }
  return [...seen];
}

/** Entra's reference check: `id eq "<group>" and members eq "<user>"` */
function membershipCheck(ctx: Ctx, filter: string): { status: number; body: unknown } {
  const a = /^\s*id\s+eq\s+"([^"]+)"\s+and\s+members\s+eq\s+"([^"]+)"\s*$/i.exec(filter);
  const b = /^\s*members\s+eq\s+"([^"]+)"\s+and\s+id\s+eq\s+"([^"]+)"\s*$/i.exec(filter);
  if (!a && !b) throw scimError(400, 'invalidFilter', 'filters on members are supported only as: id eq "<group>" and members eq "<member>"');
  const [groupId, memberId] = a ? [a[1]!, a[2]!] : [b![2]!, b![1]!];
  const group = ctx.store.push.group(ctx.source, groupId);
  const found = group && ctx.store.push.hasMember(ctx.source, groupId, memberId) ? [groupOut(ctx, group, false)] : [];
  return { status: 200, body: { schemas: [LIST_SCHEMA], totalResults: found.length, startIndex: 1, itemsPerPage: found.length, Resources: found } };
}

// ---- resources through scimmy -------------------------------------------------------------

function userOut(u: PushUser) {
  return { ...u.resource, id: u.id, userName: u.userName, active: u.active, meta: { resourceType: 'User', created: u.created, lastModified: u.lastModified } };
}

function groupOut(ctx: Ctx, g: PushGroup, withMembers = true) {
  return {
    id: g.id,
    displayName: g.displayName,
    ...(g.externalId !== undefined ? { externalId: g.externalId } : {}),
    ...(withMembers
      ? {
          members: ctx.store.push.members(ctx.source, g.id).map((value) => ({
            value,
            type: ctx.store.push.group(ctx.source, value) ? 'Group' : 'User',
          })),
        }
      : {}),
    meta: { resourceType: 'Group', created: g.created, lastModified: g.lastModified },
  };
}

interface ScimResource {
  id?: string;
  filter?: { match(list: unknown[]): unknown[] };
}

let declared = false;

/** scimmy's handlers are process-wide; each request finds its source and the store in its context */
function declareResources(): void {
  if (declared) return;
  declared = true;
  // Entra sends enterprise attributes (department, employeeNumber, manager); without the extension
  // scimmy would drop them and refuse Entra's replace of `urn:…:enterprise:2.0:User:<attr>`
  SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false);
  SCIMMY.Resources.declare(SCIMMY.Resources.User)
    .egress(((resource: ScimResource, ctx: Ctx) => {
      if (resource.id) {
        const u = ctx.store.push.user(ctx.source, resource.id);
        if (!u) throw scimError(404, null, `Resource ${resource.id} not found`);
        return userOut(u);
      }
      const all = ctx.store.push.users(ctx.source).map(userOut);
      return resource.filter ? resource.filter.match(all) : all;
    }) as never)
    .ingress(((resource: ScimResource, instance: unknown, ctx: Ctx) => {
      const data = JSON.parse(JSON.stringify(instance)) as Record<string, unknown> & { userName: string; externalId?: string; active?: boolean };
      delete data.id;
      delete data.meta;
      const push = ctx.store.push;
      const id = resource.id ?? randomUUID();
      const before = resource.id ? push.user(ctx.source, resource.id) : undefined;
      if (resource.id && !before) throw scimError(404, null, `Resource ${resource.id} not found`);
      const clash = push.userByName(ctx.source, data.userName);
      if (clash && clash.id !== id) throw scimError(409, 'uniqueness', `userName "${data.userName}" is already taken`);
      const user = push.putUser(
        ctx.source,
        { id, userName: data.userName, externalId: data.externalId, active: data.active ?? true, resource: data },
        new Date().toISOString(),
      );
      // a (de)activation or a new identity changes every conversation the user is in
      if (before) ctx.changed(withAncestors(ctx, [id]));
      return userOut(user);
    }) as never)
    .degress(((resource: ScimResource, ctx: Ctx) => {
      const affected = withAncestors(ctx, [resource.id!]);
      if (!ctx.store.push.deleteUser(ctx.source, resource.id!)) throw scimError(404, null, `Resource ${resource.id} not found`);
      ctx.changed(affected);
    }) as never);

  SCIMMY.Resources.declare(SCIMMY.Resources.Group)
    .egress(((resource: ScimResource, ctx: Ctx) => {
      if (resource.id) {
        const g = ctx.store.push.group(ctx.source, resource.id);
        if (!g) throw scimError(404, null, `Resource ${resource.id} not found`);
        return groupOut(ctx, g);
      }
      const all = ctx.store.push.groups(ctx.source).map((g) => groupOut(ctx, g));
      return resource.filter ? resource.filter.match(all) : all;
    }) as never)
    .ingress(((resource: ScimResource, instance: unknown, ctx: Ctx) => {
      const data = JSON.parse(JSON.stringify(instance)) as { displayName: string; externalId?: string; members?: { value: string }[] };
      const push = ctx.store.push;
      const id = resource.id ?? randomUUID();
      if (resource.id && !push.group(ctx.source, id)) throw scimError(404, null, `Resource ${id} not found`);
      if (push.groups(ctx.source).some((g) => g.id !== id && g.displayName === data.displayName)) {
        throw scimError(409, 'uniqueness', `a group named "${data.displayName}" already exists`);
      }
      const group = push.transaction(() => {
        const ids = data.members === undefined ? undefined : checkMembers(ctx, memberIds(data.members, true));
        const g = push.putGroup(ctx.source, { id, displayName: data.displayName, externalId: data.externalId }, new Date().toISOString());
        // Okta's full PUT carries the members; a PUT without them leaves them as they are
        if (ids) push.replaceMembers(ctx.source, id, ids);
        return g;
      });
      ctx.changed(withAncestors(ctx, [id]));
      return groupOut(ctx, group);
    }) as never)
    .degress(((resource: ScimResource, ctx: Ctx) => {
      const affected = withAncestors(ctx, [resource.id!]);
      if (!ctx.store.push.deleteGroup(ctx.source, resource.id!)) throw scimError(404, null, `Resource ${resource.id} not found`);
      ctx.changed(affected);
    }) as never);
}
