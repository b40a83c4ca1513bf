import SCIMMY from 'scimmy';
import type { SourceUser } from '../types.js';
import { wellFormedText } from '../well-formed.js';

export interface ScimMember {
  value: string;
  type?: string;
}

export interface ScimGroup {
  id: string;
  displayName: string;
  members?: ScimMember[];
  /** meta.lastModified as the provider wrote it */
  lastModified?: string;
}

/** a Group resource, or undefined with the reason in `warnings` */
export function parseGroup(source: string, raw: Record<string, unknown>, warnings: string[]): ScimGroup | undefined {
  try {
    // scimmy checks the group; members, a hundred thousand in a large directory, are checked here:
    // scimmy's coercion of each costs more than the whole rest of the read
    const { members: rawMembers, ...rest } = raw;
    const g = new SCIMMY.Schemas.Group(rest, 'out') as unknown as { id?: string; displayName: string };
    if (typeof g.id !== 'string' || g.id === '') throw new Error('no id');
    wellFormed('id', g.id);
    wellFormed('displayName', g.displayName);
    const members = rawMembers === undefined ? undefined : parseMembers(rawMembers);
    const lastModified = lastModifiedOf(raw);
    return { id: g.id, displayName: g.displayName, members, lastModified };
  } catch (e) {
    warnings.push(`source ${source}: a group was rejected (${(e as Error).message}): ${JSON.stringify(raw).slice(0, 120)}`);
    return undefined;
  }
}

/** a resource's meta.lastModified, as written (compared as written, never reformatted) */
export function lastModifiedOf(raw: Record<string, unknown>): string | undefined {
  const meta = raw.meta as { lastModified?: unknown } | undefined;
  return typeof meta?.lastModified === 'string' ? meta.lastModified : undefined;
}

/** a User resource, or undefined with the reason in `warnings` */
export function parseUser(source: string, raw: Record<string, unknown>, warnings: string[]): SourceUser | undefined {
  try {
    const u = parseUserFields(raw);
    if (u.id === undefined || u.id === '') throw new Error('no id');
    const emails = [...(u.emails ?? [])].sort((a, b) => Number(b.primary ?? false) - Number(a.primary ?? false)).map((e) => e.value);
    return {
      id: u.id,
      userName: u.userName,
      externalId: u.externalId,
      displayName: u.displayName,
      emails,
      active: u.active ?? true,
      // the raw resource keeps the attributes not read here (extension attributes)
      raw,
    };
  } catch (e) {
    warnings.push(`source ${source}: a user was rejected (${(e as Error).message}): ${JSON.stringify(raw).slice(0, 120)}`);
    return undefined;
  }
}

/**
 * The User attributes convsync reads, checked as RFC 7643 §4.1 types them (the raw resource is
 * kept for the rest). By hand: scimmy's schema coercion of a hundred thousand users costs seconds.
 */
function parseUserFields(raw: Record<string, unknown>): {
  id?: string;
  userName: string;
  externalId?: string;
  displayName?: string;
  active?: boolean;
  emails?: { value: string; primary?: boolean }[];
} {
  const optionalString = (name: string) => {
    const v = raw[name];
    if (v !== undefined && v !== null && typeof v !== 'string') throw new TypeError(`Attribute '${name}' expected to be a string`);
    return typeof v === 'string' ? wellFormed(name, v) : undefined;
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
    wellFormed("'value' of 'emails'", value);
    if (primary !== undefined && typeof primary !== 'boolean') throw new TypeError("Attribute 'primary' of 'emails' expected to be a boolean");
    return { value, primary };
  });
  const id = optionalString('id');
  const externalId = optionalString('externalId');
  const displayName = optionalString('displayName');
  return {
    id,
    userName,
    externalId,
    displayName,
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
    wellFormed("'value' of 'members'", value);
    if (type === undefined) return { value };
    const t = typeof type === 'string' ? type.toLowerCase() : '';
    if (t !== 'user' && t !== 'group') throw new TypeError(`Attribute 'type' of 'members' must be User or Group, not ${JSON.stringify(type)}`);
    return { value, type: t === 'user' ? 'User' : 'Group' };
  });
}

/**
 * JSON may carry an unpaired surrogate (`"\ud800"`), which the store would read back as U+FFFD:
 * two ids or names apart would meet as one. Such a resource is rejected like any malformed one.
 */
function wellFormed(name: string, value: string): string {
  if (!wellFormedText(value)) throw new TypeError(`Attribute ${name.startsWith("'") ? name : `'${name}'`} is not well-formed Unicode (an unpaired surrogate)`);
  return value;
}
