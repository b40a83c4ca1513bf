import { durationMs, type ScimSourceConfig } from '../../config/schema.js';
import type { ReadGroup, ReadState, ReadUser } from '../../store/source-reads.js';
import type { SourceUser } from '../types.js';
import type { ScimGroup } from './parse.js';

/** whether the provider filters on meta.lastModified, as the last probe found ('unknown': ask again) */
export type LastModifiedSupport = 'supported' | 'unsupported' | 'unknown';

/** the cursor a SCIM source keeps in the store (opaque there) */
export interface ScimCursor {
  v: 1;
  /** ISO time (convsync's clock) the last good read started: the next one asks for what changed since */
  since: string;
  /** what the stored read was made of (base URL, group filter, nesting): another scope needs a full read */
  scope: string;
  lastModified: LastModifiedSupport;
  /** the provider's totalResults at the last good read: a count that moved without a change listed is a deletion */
  groups: number;
  users: number;
  /** stored groups read by id as nested members, not listed */
  nestedOnly: number;
}

export function scopeOf(config: ScimSourceConfig): string {
  return JSON.stringify([config.baseUrl.replace(/\/+$/, ''), config.groups.filter ?? null, config.expandNested]);
}

export function parseCursor(cursor: string | null): ScimCursor | undefined {
  if (cursor === null) return undefined;
  try {
    const c = JSON.parse(cursor) as Partial<ScimCursor>;
    const ok =
      c.v === 1 &&
      typeof c.since === 'string' &&
      !Number.isNaN(Date.parse(c.since)) &&
      typeof c.scope === 'string' &&
      (c.lastModified === 'supported' || c.lastModified === 'unsupported' || c.lastModified === 'unknown') &&
      [c.groups, c.users, c.nestedOnly].every((n) => Number.isInteger(n));
    return ok ? (c as ScimCursor) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The stored read an incremental read can start from, or why a full crawl is needed instead:
 * none yet, another scope, the provider does not filter on meta.lastModified, or the full crawl is due.
 */
export function incrementalBase(config: ScimSourceConfig, state: ReadState | undefined, now: number): { cursor: ScimCursor } | { full: string } {
  const cursor = parseCursor(state?.cursor ?? null);
  if (!state || !cursor) return { full: 'no earlier read' };
  if (cursor.scope !== scopeOf(config)) return { full: 'the source was read with another base URL, filter or nesting' };
  if (cursor.lastModified === 'unsupported') return { full: 'the provider does not filter on meta.lastModified' };
  const every = durationMs(config.fullReadEvery);
  const last = state.fullReadAt === null ? NaN : Date.parse(state.fullReadAt);
  if (every === 0 || !(now - last < every)) return { full: `the full crawl is due (fullReadEvery ${config.fullReadEvery})` };
  return { cursor };
}

/** `meta.lastModified gt "…"` for what changed since the cursor, less the overlap for clock skew */
export function changedSince(config: ScimSourceConfig, cursor: ScimCursor): string {
  return lastModifiedAfter(new Date(Date.parse(cursor.since) - durationMs(config.lastModifiedOverlap)).toISOString());
}

export function lastModifiedAfter(iso: string): string {
  return `meta.lastModified gt "${iso}"`;
}

/** the configured group filter and another, both to hold */
export function both(configured: string | undefined, filter: string): string {
  return configured === undefined ? filter : `(${configured}) and ${filter}`;
}

/**
 * What the store keeps of a resource besides its content: meta.lastModified as the provider wrote
 * it, when the read that stored it started, and (groups) whether it was read as a nested member
 * without being listed.
 */
interface Kept {
  lm?: string;
  at: string;
  nestedOnly?: true;
}

/** what the store keeps of a group: member ids, those typed Group apart */
export function toReadGroup(g: ScimGroup, at: string, nestedOnly = false): ReadGroup {
  const members: string[] = [];
  const nested: string[] = [];
  for (const m of g.members ?? []) (m.type === 'Group' ? nested : members).push(m.value);
  const kept: Kept = { lm: g.lastModified, at, ...(nestedOnly ? { nestedOnly: true as const } : {}) };
  return { id: g.id, displayName: g.displayName, members, ...(nested.length > 0 ? { nested } : {}), data: JSON.stringify(kept) };
}

export function fromReadGroup(r: ReadGroup): { group: ScimGroup; nestedOnly: boolean } {
  const kept = keptOf(r.data);
  const members = [...r.members.map((value) => ({ value })), ...(r.nested ?? []).map((value) => ({ value, type: 'Group' }))];
  return {
    group: { id: r.id, displayName: r.displayName, members, lastModified: kept?.lm },
    nestedOnly: kept?.nestedOnly === true,
  };
}

/** what a stored user's first line holds: the fields a run reads, checked when the user was read */
interface UserHead {
  at: string;
  userName?: string;
  externalId?: string;
  displayName?: string;
  emails: string[];
  active: boolean;
}

/**
 * A user as stored: the fields a run reads on a first line, the resource as the provider sent it
 * on a second, parsed only when asked for (an identity path into it). Parsing a hundred thousand
 * whole resources cost more than the rest of an incremental read.
 */
export function toReadUser(u: SourceUser, at: string): ReadUser {
  const head: UserHead = { at, userName: u.userName, externalId: u.externalId, displayName: u.displayName, emails: u.emails, active: u.active };
  return { id: u.id, data: `${JSON.stringify(head)}\n${JSON.stringify(u.raw)}` };
}

export function fromReadUsers(stored: Map<string, string>): Map<string, SourceUser> {
  const users = new Map<string, SourceUser>();
  for (const [id, data] of stored) {
    const cut = data.indexOf('\n');
    const { userName, externalId, displayName, emails, active } = JSON.parse(data.slice(0, cut)) as UserHead;
    let raw: Record<string, unknown> | undefined;
    users.set(id, {
      id,
      userName,
      externalId,
      displayName,
      emails,
      active,
      get raw() {
        return (raw ??= JSON.parse(data.slice(cut + 1)) as Record<string, unknown>);
      },
    });
  }
  return users;
}

function storedResource(data: string): Record<string, unknown> {
  return JSON.parse(data.slice(data.indexOf('\n') + 1)) as Record<string, unknown>;
}

/**
 * Whether a group listed as modified since the cursor is the one stored: the same
 * meta.lastModified, which was already older than its read by more than the overlap (a second
 * change within the provider's timestamp resolution, during that read, would carry the same one).
 * The overlap re-lists what changed shortly before the last read; this keeps it from being taken
 * as a change again.
 */
export function unchangedSince(stored: string | undefined, lastModified: string | undefined, overlapMs: number): boolean {
  if (stored === undefined || lastModified === undefined) return false;
  const kept = keptOf(stored);
  if (kept?.lm !== lastModified) return false;
  return Date.parse(kept.lm) < Date.parse(kept.at) - overlapMs;
}

/** whether a group read now is the stored one: its name, and its members and nested groups as sets */
export function sameGroup(stored: ReadGroup, g: ScimGroup): boolean {
  const now = toReadGroup(g, '');
  const sameIds = (a: readonly string[] = [], b: readonly string[] = []) => a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
  return stored.displayName === now.displayName && sameIds(stored.members, now.members) && sameIds(stored.nested, now.nested);
}

/** whether a user read now is the stored one, meta aside (a touch that changed nothing else is no change) */
export function sameUser(stored: string, raw: Record<string, unknown>): boolean {
  const { meta: _a, ...before } = storedResource(stored);
  const { meta: _b, ...now } = raw;
  return canonical(before) === canonical(now);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** a stored group's meta.lastModified, as the provider wrote it */
export function storedLastModified(data: string | undefined): string | undefined {
  return keptOf(data)?.lm;
}

/** a stored group read as a nested member without being listed */
export function isNestedOnly(data: string | undefined): boolean {
  return keptOf(data)?.nestedOnly === true;
}

function keptOf(data: string | undefined): Kept | undefined {
  if (data === undefined) return undefined;
  try {
    return JSON.parse(data) as Kept;
  } catch {
    return undefined;
  }
}
