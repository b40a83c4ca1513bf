import { randomUUID } from 'node:crypto';
import SCIMMY from 'scimmy';
import { isBusy } from '../../store/busy.js';
import type { PushGroup, PushUser } from '../../store/push.js';
import { withAncestors, type PushContext } from './context.js';
import { BUSY_DETAIL, isScimError, scimError } from './errors.js';
import { groupOut, storeAnswer, userOut, type ResourceKind } from './format.js';
import { MAX_RESULTS, select } from './list.js';
import { checkMembers, memberIds } from './patch-group.js';

/** what scimmy hands a handler: the resource addressed, or the filter of a list */
interface ScimResource {
  id?: string;
  filter?: SCIMMY.Types.Filter;
}

/** What /ServiceProviderConfig advertises; applied after scimmy-routers wrote its own defaults. */
export const SERVICE_PROVIDER_CONFIG = {
  patch: { supported: true },
  filter: { supported: true, maxResults: MAX_RESULTS },
  bulk: { supported: false },
  sort: { supported: false },
  etag: { supported: false },
  changePassword: { supported: false },
};

/**
 * Listings are answered before scimmy's routers (list.ts); this serves scimmy's own list reads
 * with the same index-backed selection, first page only.
 */
function listRows(ctx: PushContext, kind: ResourceKind, resource: ScimResource) {
  return select(ctx, kind, resource.filter).page(0, MAX_RESULTS);
}

const notFound = (id: string | undefined) => scimError(404, null, `Resource ${id} not found`);

function egressUser(resource: ScimResource, ctx: PushContext) {
  if (resource.id === undefined) return (listRows(ctx, 'User', resource) as PushUser[]).map(userOut);
  const u = ctx.store.push.user(ctx.source, resource.id);
  if (!u) throw notFound(resource.id);
  return userOut(u);
}

function ingressUser(resource: ScimResource, instance: unknown, ctx: PushContext) {
  const data = JSON.parse(JSON.stringify(instance)) as Record<string, unknown> & { userName: string; externalId?: string; active?: boolean };
  delete data.id;
  delete data.meta;
  const push = ctx.store.push;
  const id = resource.id ?? randomUUID();
  const before = resource.id ? push.user(ctx.source, resource.id) : undefined;
  if (resource.id && !before) throw notFound(resource.id);
  const clash = push.userByName(ctx.source, data.userName);
  if (clash && clash.id !== id) throw scimError(409, 'uniqueness', `userName "${data.userName}" is already taken`);
  // the user and its answer in one transaction: a create answered 500 has stored nothing, so the IdP's retry is no duplicate
  const user = push.transaction(() => {
    const u = push.putUser(
      ctx.source,
      { id, userName: data.userName, externalId: data.externalId, active: data.active ?? true, resource: data },
      new Date().toISOString(),
    );
    storeAnswer(ctx, 'User', u);
    return u;
  });
  // a (de)activation or a new identity changes every conversation the user is in
  if (before) ctx.changed(withAncestors(ctx, [id]));
  return userOut(user);
}

function egressGroup(resource: ScimResource, ctx: PushContext) {
  if (resource.id === undefined) return (listRows(ctx, 'Group', resource) as PushGroup[]).map((g) => groupOut(ctx, g, true));
  const g = ctx.store.push.group(ctx.source, resource.id);
  if (!g) throw notFound(resource.id);
  return groupOut(ctx, g, true);
}

function ingressGroup(resource: ScimResource, instance: unknown, ctx: PushContext) {
  const data = JSON.parse(JSON.stringify(instance)) as { displayName: string; externalId?: string; members?: { value: string }[] };
  const push = ctx.store.push;
  const id = resource.id ?? randomUUID();
  if (resource.id && !push.group(ctx.source, id)) throw notFound(id);
  if (push.groupsByName(ctx.source, data.displayName).some((g) => g.id !== id)) {
    throw scimError(409, 'uniqueness', `a group named "${data.displayName}" already exists`);
  }
  const group = push.transaction(() => {
    const ids = data.members === undefined ? undefined : checkMembers(ctx, memberIds(data.members, true));
    const g = push.putGroup(ctx.source, { id, displayName: data.displayName, externalId: data.externalId }, new Date().toISOString());
    // Okta's full PUT carries the members; a PUT without them leaves them as they are
    if (ids) push.replaceMembers(ctx.source, id, ids);
    storeAnswer(ctx, 'Group', g);
    return g;
  });
  ctx.changed(withAncestors(ctx, [id]));
  return groupOut(ctx, group, true);
}

function degress(kind: ResourceKind) {
  return (resource: ScimResource, ctx: PushContext) => {
    const affected = withAncestors(ctx, [resource.id!]);
    const deleted = kind === 'User' ? ctx.store.push.deleteUser(ctx.source, resource.id!) : ctx.store.push.deleteGroup(ctx.source, resource.id!);
    if (!deleted) throw notFound(resource.id);
    ctx.changed(affected);
  };
}

/**
 * scimmy answers whatever else a handler throws as 404 "Resource … not found" (a TypeError as 400):
 * an IdP told that a delete found nothing takes it as done, and one told that a create found
 * nothing does not send it again. A fault of the store or of convsync is answered 500 instead,
 * which Entra ID and Okta retry; the routes log its cause.
 */
function guarded<A extends unknown[], R>(handler: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    try {
      return handler(...args);
    } catch (e) {
      if (isScimError(e)) throw e;
      throw Object.assign(scimError(500, null, isBusy(e) ? BUSY_DETAIL : 'internal error'), { cause: e });
    }
  };
}

let declared = false;

/** scimmy's handlers are process-wide; each request finds its source and the store in its context */
export function declareResources(): void {
  if (declared) return;
  declared = true;
  // Entra sends enterprise attributes (department, employeeNumber, manager); without the extension
  // scimmy would drop them and refuse Entra's replace of `urn:…:enterprise:2.0:User:<attr>`
  SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false);
  SCIMMY.Resources.declare(SCIMMY.Resources.User)
    .egress(guarded(egressUser) as never)
    .ingress(guarded(ingressUser) as never)
    .degress(guarded(degress('User')) as never);
  SCIMMY.Resources.declare(SCIMMY.Resources.Group)
    .egress(guarded(egressGroup) as never)
    .ingress(guarded(ingressGroup) as never)
    .degress(guarded(degress('Group')) as never);
}
