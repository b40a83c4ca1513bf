import { SCIMMY } from 'scimmy-routers';
import type { SampleGroup, SampleUser } from '../directory.js';

// the sandbox's users and groups as SCIM resources, and scimmy's (process-wide) handlers for them

/** what the process-wide scimmy handlers find a sandbox by */
export interface Ctx {
  dir: {
    users: ReadonlyMap<string, SampleUser & { lastModified: string }>;
    groups: ReadonlyMap<string, SampleGroup & { lastModified: string }>;
  };
}

let declared = false;

/** RFC 7644 §3.12 */
export function invalidFilter(detail: string) {
  return { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '400', scimType: 'invalidFilter', detail };
}

export function userResource(u: SampleUser & { lastModified: string }) {
  return {
    id: u.id,
    userName: u.userName,
    externalId: u.externalId,
    displayName: u.displayName,
    active: u.active,
    emails: [{ value: u.email, type: 'work', primary: true }],
    meta: { resourceType: 'User', lastModified: u.lastModified },
  };
}

export function groupResource(g: SampleGroup & { lastModified: string }) {
  return {
    id: g.id,
    displayName: g.displayName,
    members: g.members.map((m) => ({ value: m.value, type: m.type, $ref: `${m.type}s/${m.value}` })),
    meta: { resourceType: 'Group', lastModified: g.lastModified },
  };
}

interface EgressResource {
  id?: string;
  filter?: { match(list: unknown[]): unknown[] };
}

/** scimmy's resource handlers are process-wide: they find the sandbox through the request context */
export function declareResources(): void {
  if (declared) return;
  declared = true;
  const readOnly = () => {
    throw new SCIMMY.Types.Error(501, null as never, 'the sandbox directory is changed through its API, not through SCIM writes');
  };
  SCIMMY.Resources.declare(SCIMMY.Resources.User)
    .egress(((resource: EgressResource, ctx: Ctx) => {
      if (resource.id) {
        const u = ctx.dir.users.get(resource.id);
        if (!u) throw new SCIMMY.Types.Error(404, null as never, `Resource ${resource.id} not found`);
        return userResource(u);
      }
      const all = [...ctx.dir.users.values()].map(userResource);
      return resource.filter ? resource.filter.match(all) : all;
    }) as never)
    .ingress(readOnly as never)
    .degress(readOnly as never);
  SCIMMY.Resources.declare(SCIMMY.Resources.Group)
    .egress(((resource: EgressResource, ctx: Ctx) => {
      if (resource.id) {
        const g = ctx.dir.groups.get(resource.id);
        if (!g) throw new SCIMMY.Types.Error(404, null as never, `Resource ${resource.id} not found`);
        return groupResource(g);
      }
      const all = [...ctx.dir.groups.values()].map(groupResource);
      return resource.filter ? resource.filter.match(all) : all;
    }) as never)
    .ingress(readOnly as never)
    .degress(readOnly as never);
}
