import SCIMMY from 'scimmy';
import { withAncestors, type PushContext } from './context.js';
import { scimError } from './errors.js';
import { storeAnswer } from './format.js';

interface PatchOperation {
  op: string;
  path?: string;
  value?: unknown;
}

/** how many unknown members an error names one by one */
const NAMED_UNKNOWN = 100;
const CORE_GROUP = /^urn:ietf:params:scim:schemas:core:2\.0:Group:/i;
const FILTERED_MEMBER = /^members\[\s*value\s+eq\s+"([^"]+)"\s*\]$/i;

export function memberIds(value: unknown, required: boolean): string[] {
  if (value === undefined && !required) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((m) => {
    const v = typeof m === 'object' && m !== null ? (m as { value?: unknown }).value : undefined;
    if (typeof v !== 'string' || v === '') throw scimError(400, 'invalidValue', 'each member needs a "value" with the id of a User or Group');
    return v;
  });
}

/**
 * Members must be users or groups this source was sent. A request naming unknown ones fails whole
 * and names every one of them: a PATCH is atomic (RFC 7644 §3.5.2), and Entra reads groups back
 * without members, so a member skipped behind a 2xx would never be sent again.
 */
export function checkMembers(ctx: PushContext, ids: string[]): string[] {
  const unknown = [...new Set(ctx.store.push.unknownIds(ctx.source, ids))];
  if (unknown.length === 0) return ids;
  const named = unknown.slice(0, NAMED_UNKNOWN).join(', ');
  const more = unknown.length > NAMED_UNKNOWN ? ` and ${unknown.length - NAMED_UNKNOWN} more` : '';
  const what = unknown.length === 1 ? 'member is not a known User or Group' : `${unknown.length} members are not known Users or Groups`;
  throw scimError(400, 'invalidValue', `${what} of this service provider, so nothing was changed: ${named}${more}`);
}

function requireString(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw scimError(400, 'invalidValue', `${name} must be a non-empty string`);
  return v;
}

/** the operations of a PatchOp message, validated by scimmy (schemas, op names, value/path rules; Entra's "Add" lower-cased) */
function operations(body: unknown): PatchOperation[] {
  try {
    return (new SCIMMY.Messages.PatchOp(body as never) as unknown as { Operations: PatchOperation[] }).Operations;
  } catch (e) {
    const err = e as { status?: number; scimType?: string; message: string };
    throw scimError(err.status ?? 400, err.scimType ?? 'invalidSyntax', err.message);
  }
}

interface Draft {
  id: string;
  displayName: string;
  externalId: string | undefined;
}

function applyMembers(ctx: PushContext, draft: Draft, kind: string, value: unknown): void {
  const { push } = ctx.store;
  if (kind === 'add') push.addMembers(ctx.source, draft.id, checkMembers(ctx, memberIds(value, true)));
  else if (kind === 'replace') push.replaceMembers(ctx.source, draft.id, checkMembers(ctx, memberIds(value, true)));
  // Entra's remove with a value array removes only those members; without a value, all of them
  else if (value === undefined) push.replaceMembers(ctx.source, draft.id, []);
  else push.removeMembers(ctx.source, draft.id, memberIds(value, false));
}

/** a path-less add or replace (Okta's rename, Entra's multi-attribute replace): an object of attributes */
function applyAttributes(ctx: PushContext, draft: Draft, kind: string, value: unknown): void {
  if (typeof value !== 'object' || value === null) throw scimError(400, 'invalidValue', `${kind} without a path needs an object of attributes`);
  for (const [key, v] of Object.entries(value)) {
    const attr = key.replace(CORE_GROUP, '');
    if (/^displayName$/i.test(attr)) draft.displayName = requireString(v, 'displayName');
    else if (/^externalId$/i.test(attr)) draft.externalId = requireString(v, 'externalId');
    else if (/^members$/i.test(attr)) applyMembers(ctx, draft, kind === 'add' ? 'add' : 'replace', v);
    else if (/^id$/i.test(attr)) {
      if (v !== draft.id) throw scimError(400, 'mutability', 'id cannot be changed');
    } else throw scimError(400, 'invalidPath', `attribute ${key} is not supported on groups`);
  }
}

function applyOperation(ctx: PushContext, draft: Draft, op: PatchOperation): void {
  const kind = op.op.toLowerCase();
  const path = op.path?.trim();
  const filtered = path ? FILTERED_MEMBER.exec(path) : null;
  if (path && /^members$/i.test(path)) applyMembers(ctx, draft, kind, op.value);
  else if (filtered) {
    if (kind !== 'remove') throw scimError(400, 'invalidPath', `${op.op} is not supported on ${path}`);
    ctx.store.push.removeMembers(ctx.source, draft.id, [filtered[1]!]);
  } else if (path && /^displayName$/i.test(path)) draft.displayName = requireString(op.value, 'displayName');
  else if (path && /^externalId$/i.test(path)) draft.externalId = kind === 'remove' ? undefined : requireString(op.value, 'externalId');
  else if (!path && (kind === 'replace' || kind === 'add')) applyAttributes(ctx, draft, kind, op.value);
  else throw scimError(400, 'invalidPath', `${op.op} with path ${path ?? '(none)'} is not supported on groups`);
}

/**
 * `PATCH /Groups/{id}`: membership changes applied as deltas on the store's rows, all operations
 * in one transaction (a failing one leaves the group as it was), answered 204 as Entra asks.
 * scimmy's own PATCH would rewrite the whole group, which costs the size of the group.
 */
export function patchGroup(ctx: PushContext, id: string, body: unknown): void {
  const ops = operations(body);
  const { push } = ctx.store;
  push.transaction(() => {
    const group = push.group(ctx.source, id);
    if (!group) throw scimError(404, undefined, `Resource ${id} not found`);
    const draft: Draft = { id, displayName: group.displayName, externalId: group.externalId };
    for (const op of ops) applyOperation(ctx, draft, op);
    if (draft.displayName !== group.displayName && push.groupsByName(ctx.source, draft.displayName).some((g) => g.id !== id)) {
      throw scimError(409, 'uniqueness', `a group named "${draft.displayName}" already exists`);
    }
    storeAnswer(ctx, 'Group', push.putGroup(ctx.source, draft, new Date().toISOString()));
  });
  ctx.changed(withAncestors(ctx, [id]));
}
