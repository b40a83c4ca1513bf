import SCIMMY from 'scimmy';
import type { PushGroup, PushUser } from '../../store/push.js';
import type { PushContext } from './context.js';
import { isScimError, scimError } from './errors.js';

export type ResourceKind = 'User' | 'Group';

/** where a kind is served under a source's path */
export const ENDPOINT: Record<ResourceKind, string> = { User: '/Users', Group: '/Groups' };

/** a pushed user as SCIM shows it, before scimmy's outbound coercion */
export function userOut(u: PushUser): Record<string, unknown> {
  return { ...u.resource, id: u.id, userName: u.userName, active: u.active, meta: { resourceType: 'User', created: u.created, lastModified: u.lastModified } };
}

/** a pushed group as SCIM shows it; its members only when asked for (they cost the size of the group) */
export function groupOut(ctx: PushContext, g: PushGroup, withMembers: boolean): Record<string, unknown> {
  return {
    id: g.id,
    displayName: g.displayName,
    ...(g.externalId !== undefined ? { externalId: g.externalId } : {}),
    ...(withMembers ? { members: ctx.store.push.memberRefs(ctx.source, g.id) } : {}),
    meta: { resourceType: 'Group', created: g.created, lastModified: g.lastModified },
  };
}

/** scimmy's outbound form: schemas, meta.location, `attributes`/`excludedAttributes` applied */
export function toScim(kind: ResourceKind, resource: Record<string, unknown>, basepath: string, attributes?: SCIMMY.Types.Filter): SCIMMY.Types.Schema {
  const Schema = kind === 'User' ? SCIMMY.Schemas.User : SCIMMY.Schemas.Group;
  return new Schema(resource, 'out', basepath, attributes);
}

/** how a listing shows each resource it returns */
export interface View {
  /** scimmy's projection, from `attributes` or `excludedAttributes` */
  attributes?: SCIMMY.Types.Filter;
  /** whole resources (at most without a group's members): the stored rendering serves them */
  whole: boolean;
  /** groups only */
  withMembers: boolean;
}

const given = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
const paths = (v: string) =>
  v.split(',').map((a) =>
    a
      .trim()
      .replace(/^urn:ietf:params:scim:schemas:core:2\.0:(User|Group):/i, '')
      .toLowerCase(),
  );

/** the view a request asks for; `attributes` wins over `excludedAttributes`, as in scimmy */
export function viewOf(kind: ResourceKind, params: { attributes?: unknown; excludedAttributes?: unknown }): View {
  let attributes: SCIMMY.Types.Filter | undefined;
  const pick = Object.fromEntries((['attributes', 'excludedAttributes'] as const).filter((k) => params[k] !== undefined).map((k) => [k, params[k]]));
  try {
    attributes = new (kind === 'User' ? SCIMMY.Resources.User : SCIMMY.Resources.Group)(pick as never).attributes;
  } catch (e) {
    if (isScimError(e)) throw e;
    throw scimError(400, 'invalidValue', `attributes and excludedAttributes must be comma-separated attribute names: ${(e as Error).message}`);
  }
  if (given(params.attributes)) {
    const withMembers = paths(params.attributes).some((p) => p === 'members' || p.startsWith('members.') || p.startsWith('members['));
    return { ...(attributes ? { attributes } : {}), whole: false, withMembers };
  }
  if (given(params.excludedAttributes)) {
    const excluded = paths(params.excludedAttributes);
    const onlyMembers = kind === 'Group' && excluded.every((p) => p === 'members');
    return { ...(attributes ? { attributes } : {}), whole: onlyMembers, withMembers: !excluded.includes('members') };
  }
  return { whole: true, withMembers: kind === 'Group' };
}

const location = (ctx: PushContext, kind: ResourceKind) => `${ctx.path}${ENDPOINT[kind]}`;

/**
 * Renders a resource's whole answer (a group's without members) with scimmy and stores it. Done
 * when the resource is written: scimmy's coercion costs about 0.5 ms, so a page of 100 users
 * rendered at read time would hold the event loop for 50 ms.
 */
export function storeAnswer(ctx: PushContext, kind: ResourceKind, row: PushUser | PushGroup): string {
  const raw = kind === 'User' ? userOut(row as PushUser) : groupOut(ctx, row as PushGroup, false);
  const json = JSON.stringify(toScim(kind, raw, location(ctx, kind)));
  ctx.store.push.rendered.save(ctx.source, kind, row.id, json);
  return json;
}

/** One resource's answer as JSON text: the stored rendering where the request shows the whole resource. */
export function answerOf(ctx: PushContext, kind: ResourceKind, row: PushUser | PushGroup, view: View, stored?: string): string {
  if (!view.whole) {
    const raw = kind === 'User' ? userOut(row as PushUser) : groupOut(ctx, row as PushGroup, view.withMembers);
    return JSON.stringify(toScim(kind, raw, location(ctx, kind), view.attributes));
  }
  // rows written before answers were stored are rendered on their first read
  return wholeAnswer(ctx, kind, row.id, stored ?? ctx.store.push.rendered.get(ctx.source, kind, row.id) ?? storeAnswer(ctx, kind, row), view);
}

/** a stored answer as a request that shows the whole resource wants it: a group's members added when asked for */
export function wholeAnswer(ctx: PushContext, kind: ResourceKind, id: string, stored: string, view: View): string {
  if (kind === 'User' || !view.withMembers) return stored;
  // members change without the group's row, so they are read each time; scimmy puts them last
  return `${stored.slice(0, -1)},"members":${JSON.stringify(ctx.store.push.memberRefs(ctx.source, id))}}`;
}
