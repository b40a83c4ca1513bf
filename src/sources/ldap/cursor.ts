import { durationMs } from '../../config/schema.js';
import type { LdapSourceConfig } from '../../config/ldap-schema.js';
import { AuthError, describeError } from '../../errors.js';
import type { ReadState } from '../../store/source-reads.js';
import type { LdapConnection } from './connection.js';
import { readEntry, type SearchContext } from './paged-search.js';
import { formatGeneralizedTime } from './time.js';

/**
 * Where the next incremental read starts, kept in the store (opaque there). Active Directory:
 * the domain controller's highestCommittedUSN when the last read began; every change on that DC
 * takes a higher uSNChanged (USNs are the DC's own: another DC means a full read). Other servers:
 * modifyTimestamp, from the time the last read began, less modifyTimestampOverlap (the highest
 * one it saw is kept, to tell a server that keeps none).
 */
export type LdapCursor = { v: 1; scope: string; server: string } & (
  { kind: 'usn'; usn: string } | { kind: 'modifyTimestamp'; highest: number | null; startedAt: number }
);

const STAMP_ATTRIBUTE = 'modifyTimestamp';
const USN_ATTRIBUTE = 'uSNChanged';

/** what a stored read was made of: other searches need a full read */
export function scopeOf(config: LdapSourceConfig): string {
  const { groups, users } = config;
  return JSON.stringify([
    groups.baseDn,
    groups.filter,
    groups.idAttribute,
    groups.nameAttribute,
    groups.memberAttribute,
    users.baseDn,
    users.filter,
    users.idAttribute,
    users.attributes,
    users.disabledFilter ?? null,
  ]);
}

/** the server a cursor belongs to: the domain controller on AD, the URL elsewhere */
export function serverOf(conn: LdapConnection): string {
  return conn.server.dsServiceName ?? conn.url;
}

export function parseCursor(text: string | null | undefined): LdapCursor | undefined {
  if (!text) return undefined;
  try {
    const c = JSON.parse(text) as Partial<LdapCursor> & Record<string, unknown>;
    if (c.v !== 1 || typeof c.scope !== 'string' || typeof c.server !== 'string') return undefined;
    if (c.kind === 'usn' && typeof c.usn === 'string' && /^\d+$/.test(c.usn)) return c as LdapCursor;
    const highestOk = c.highest === null || Number.isFinite(c.highest);
    if (c.kind === 'modifyTimestamp' && highestOk && Number.isFinite(c.startedAt)) return c as LdapCursor;
    return undefined;
  } catch {
    return undefined;
  }
}

/** why no incremental read can start from the stored state, before connecting; undefined: it may */
export function fullReadDue(config: LdapSourceConfig, state: ReadState | undefined, now: number): string | undefined {
  const cursor = parseCursor(state?.cursor);
  if (!state || !cursor) return state ? 'the last read left no usable cursor' : 'no earlier read';
  if (cursor.scope !== scopeOf(config)) return 'the searches changed (base DN, filter or attributes)';
  const every = durationMs(config.fullReadEvery);
  const last = state.fullReadAt === null ? NaN : Date.parse(state.fullReadAt);
  if (every === 0 || !(now - last < every)) return `the full read is due (fullReadEvery ${config.fullReadEvery})`;
  return undefined;
}

/** the cursor an incremental read starts from on this connection, or why a full read is needed */
export function incrementalBase(
  config: LdapSourceConfig,
  state: ReadState | undefined,
  conn: LdapConnection,
  now: number,
): { cursor: LdapCursor } | { full: string } {
  const due = fullReadDue(config, state, now);
  if (due !== undefined) return { full: due };
  const cursor = parseCursor(state!.cursor)!;
  if (cursor.server !== serverOf(conn)) return { full: `another server answered (${serverOf(conn)}; the stored read came from ${cursor.server})` };
  if (cursor.kind === 'usn' && conn.server.highestCommittedUSN === undefined) return { full: 'the server no longer gives highestCommittedUSN' };
  if (cursor.kind === 'modifyTimestamp' && conn.server.activeDirectory) return { full: 'the server is Active Directory now' };
  return { cursor };
}

/** the attribute whose value an incremental read compares, read with each entry where it matters */
export function stampAttributeOf(conn: LdapConnection): string | undefined {
  return conn.server.activeDirectory ? undefined : STAMP_ATTRIBUTE;
}

/** the filter part that selects what changed since the cursor */
export function changedFilter(config: LdapSourceConfig, cursor: LdapCursor): string {
  if (cursor.kind === 'usn') return `(${USN_ATTRIBUTE}>=${BigInt(cursor.usn) + 1n})`;
  // the read's start, never the highest modifyTimestamp seen: that is on the directory's clock and may
  // lie ahead of changes not yet seen (one entry stamped in the future would blind every later read)
  const from = cursor.startedAt - durationMs(config.modifyTimestampOverlap);
  return `(${STAMP_ATTRIBUTE}>=${formatGeneralizedTime(from)})`;
}

/** whether the server has nothing committed since the cursor (AD: its highestCommittedUSN has not moved) */
export function nothingCommittedSince(cursor: LdapCursor, conn: LdapConnection): boolean {
  return cursor.kind === 'usn' && conn.server.highestCommittedUSN === cursor.usn;
}

/** the cursor after a good read that began at `startedAt` on `conn` and saw modifyTimestamps up to `highest` */
export function nextCursor(
  config: LdapSourceConfig,
  conn: LdapConnection,
  startedAt: number,
  highest: number | undefined,
  before?: LdapCursor,
): LdapCursor | undefined {
  const base = { v: 1 as const, scope: scopeOf(config), server: serverOf(conn) };
  if (conn.server.activeDirectory)
    return conn.server.highestCommittedUSN === undefined ? undefined : { ...base, kind: 'usn', usn: conn.server.highestCommittedUSN };
  const seen = [highest, before?.kind === 'modifyTimestamp' ? before.highest : undefined].filter((n): n is number => typeof n === 'number');
  return { ...base, kind: 'modifyTimestamp', highest: seen.length > 0 ? Math.max(...seen) : null, startedAt };
}

/**
 * Whether the server filters on the cursor's attribute, asked of the groups' base entry: at least
 * the lowest value must match it and at least a value beyond any must not. A server that ignores
 * the filter, or cannot order the attribute, would otherwise make every incremental read find
 * nothing changed. Undefined: it does; otherwise why not.
 */
export async function probeCursor(ctx: SearchContext, config: LdapSourceConfig, cursor: LdapCursor): Promise<string | undefined> {
  const [attr, low, high] = cursor.kind === 'usn' ? [USN_ATTRIBUTE, '0', '9223372036854775807'] : [STAMP_ATTRIBUTE, '19700101000000Z', '99991231235959Z'];
  const base = config.groups.baseDn;
  try {
    const matches = async (value: string) => (await readEntry(ctx, base, ['1.1'], `${attr} probe of ${base}`, `(${attr}>=${value})`)) !== undefined;
    if (!(await matches(low))) return `the server does not match (${attr}>=${low}) on ${base}`;
    if (await matches(high)) return `the server matches (${attr}>=${high}) on ${base}: it does not filter on ${attr}`;
    return undefined;
  } catch (e) {
    if (e instanceof AuthError) throw e;
    ctx.signal.throwIfAborted();
    return `asking for (${attr}>=…) failed (${describeError(e)})`;
  }
}
