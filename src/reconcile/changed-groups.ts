import type { MappingConfig } from '../config/schema.js';
import { conversationKeyOf } from '../mapping/map.js';
import { headPrint, membersPrint, printBatch, type PrintKey } from '../sources/print.js';
import type { DesiredGroup } from '../sources/types.js';
import type { ConversationGroups } from '../store/binding-groups.js';
import type { PrintsDiffer } from '../store/group-prints.js';

/**
 * A print of each group as read: whatever a plan takes from it (name, flags, each member with all
 * their attributes, in any order). Two reads with the same print plan the same. A source that
 * printed a group's members already (a file source answering from what it stored, or from who came
 * and went) gives that print, and its members are not read.
 */
export function printGroups(groups: readonly DesiredGroup[], key: PrintKey): Map<string, string> {
  const batch = printBatch(key);
  const out = new Map<string, string>();
  for (const g of groups) out.set(g.key, `${headOf(g, key)}.${g.membersPrint ?? membersPrint(g.members, batch)}`);
  return out;
}

/** a stored head's print while the group is as stored, else printed now */
function headOf(g: DesiredGroup, key: PrintKey): string {
  const asStored = g.complete && !g.suspect && g.unknownReason === undefined && g.unknownIsReadError === undefined;
  return asStored && g.headPrint !== undefined ? g.headPrint : headPrint(g, key);
}

export interface ChangeScope {
  /** the groups the plan takes: the changed ones and every group that feeds a conversation with one */
  keys: Set<string>;
  /** groups read whose print differs from the last complete plan's */
  changed: number;
  /** the conversations planned */
  conversations: Set<string>;
  /** the binding keys its plan can look at: the conversations its groups feed now, and those (bound or let go) that any of them fed */
  reach: Set<string>;
}

/**
 * Which groups a plan of what changed takes, or why it cannot be one (a full plan then runs). It
 * can when every changed group feeds, by the mappings, the same bound conversation it fed at the
 * last plan, and no group is new or gone: then only memberships and names move within conversations
 * that stay as they are, and each such conversation is planned whole, with every group that feeds
 * it. Anything else — a group new, gone, renamed into another conversation or out of every rule — can
 * create, re-bind, claim a conversation left behind or let one go, which depends on conversations
 * beyond it, and is left to a full plan.
 */
export function scopeOfChange(
  groups: readonly DesiredGroup[],
  prints: ReadonlyMap<string, string>,
  /** how `prints` differ from the last complete plan's */
  differ: (prints: ReadonlyMap<string, string>) => PrintsDiffer,
  mappings: readonly MappingConfig[],
  /** the conversations bound or let go that list one of these groups, with the groups that fed them at the last plan */
  listing: (groups: readonly string[]) => readonly ConversationGroups[],
): ChangeScope | string {
  // a key read twice is no group a plan of what changed can follow (no source gives one)
  if (prints.size !== groups.length) return `${groups.length - prints.size} group key(s) read twice`;
  const { gone, changed, fresh } = differ(prints);
  if (gone > 0) return `${gone} group(s) gone since the last complete plan`;
  if (fresh.length > 0) return `${fresh.length} new group(s)`;
  const changedSet = new Set(changed);
  const boundBefore = listing(changed).filter((c) => c.bound);
  const fedBefore = new Map<string, string[]>();
  for (const c of boundBefore) for (const g of c.groups) if (changedSet.has(g)) (fedBefore.get(g) ?? fedBefore.set(g, []).get(g)!).push(c.key);
  const feedsNow = new Map<string, string>();
  for (const g of groups) {
    const conv = conversationKeyOf(g, mappings);
    if (conv !== undefined) feedsNow.set(g.key, conv);
  }
  const keys = new Set(changed);
  const conversations = new Set<string>();
  for (const g of changed) {
    const now = feedsNow.get(g);
    const before = fedBefore.get(g) ?? [];
    if (now === undefined && before.length === 0) continue;
    if (now === undefined || before.length !== 1 || before[0] !== now) return `group ${g} feeds another conversation than at the last complete plan`;
    conversations.add(now);
  }
  // each conversation taken was fed by a changed group, so its list is among those read
  const groupsBefore = new Map(boundBefore.map((c) => [c.key, c.groups]));
  for (const [g, conv] of feedsNow) if (conversations.has(conv)) keys.add(g);
  for (const conv of conversations) for (const g of groupsBefore.get(conv) ?? []) keys.add(g);
  const reach = new Set<string>();
  for (const g of keys) if (feedsNow.has(g)) reach.add(feedsNow.get(g)!);
  for (const c of listing([...keys])) reach.add(c.key);
  return { keys, changed: changed.length, conversations, reach };
}
