import type { SourceReads } from '../../store/source-reads.js';
import type { FlatGroup } from '../expand.js';
import { updatedMembersPrint, type PrintKey } from '../print.js';
import type { MembersMoved, SourceUser } from '../types.js';
import type { StoredDirectory } from './stored-directory.js';
import type { StoredGroupData } from './stored.js';

/** a changed group that only gained and lost members: its members' print and count now, and who moved */
export interface MovedGroup {
  print: string;
  size: number;
  moved: MembersMoved;
}

/**
 * Of the groups whose bytes changed, those that can be answered from who came and went, without
 * reading their other members: a group that lists users only, before and now, each once, that no
 * group nests, and that lists no user whose own record changed in this read (`expandedAnyway`). Its
 * print is the stored one updated by those members; the members themselves are read when asked for.
 */
export function movedMembers(ctx: {
  reads: SourceReads;
  source: string;
  key: PrintKey;
  heads: ReadonlyMap<string, { nested: string[]; data: StoredGroupData }>;
  changed: ReadonlyMap<string, FlatGroup>;
  /** groups expanded whole whatever their members did: those listing a user that changed */
  expandedAnyway: ReadonlySet<string>;
  directory: StoredDirectory;
}): Map<string, MovedGroup> {
  const { heads, changed } = ctx;
  const nested = new Set<string>();
  for (const h of heads.values()) for (const id of h.nested) nested.add(id);
  const candidates = [...changed.keys()].filter((id) => {
    const { data, nested: own } = heads.get(id)!;
    return !ctx.expandedAnyway.has(id) && !nested.has(id) && own.length === 0 && (data.unknown ?? []).length === 0;
  });
  const out = new Map<string, MovedGroup>();
  if (candidates.length === 0) return out;
  const stored = ctx.reads.someGroups(ctx.source, candidates);
  const moves: { id: string; left: string[]; came: string[]; size: number }[] = [];
  for (const id of candidates) {
    const before = stored.get(id)?.members;
    const now = changed.get(id)!.members;
    if (!before) continue;
    const was = new Set(before);
    const is = new Set(now);
    // a member listed twice is left to an expansion
    if (was.size !== before.length || is.size !== now.length) continue;
    moves.push({ id, left: before.filter((m) => !is.has(m)), came: now.filter((m) => !was.has(m)), size: now.length });
  }
  // the users who moved, looked up at once
  const users = new Map<string, SourceUser | null>();
  const ids = [...new Set(moves.flatMap((m) => [...m.left, ...m.came]))];
  ctx.directory.usersOf(ids).forEach((u, i) => users.set(ids[i]!, u));
  for (const move of moves) {
    const left = move.left.map((m) => users.get(m) ?? null);
    const came = move.came.map((m) => users.get(m) ?? null);
    if (left.includes(null) || came.includes(null)) continue;
    const moved = { before: heads.get(move.id)!.data.print, left: left as SourceUser[], came: came as SourceUser[] };
    const print = updatedMembersPrint(moved.before, moved.left, moved.came, ctx.key);
    if (print !== undefined) out.set(move.id, { print, size: move.size, moved });
  }
  return out;
}
