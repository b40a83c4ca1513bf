import type { MappingConfig } from '../config/schema.js';
import { conversationKeyOf } from '../mapping/map.js';
import type { DesiredGroup, SourceUser } from '../sources/types.js';

/**
 * A print of each group as read: whatever a plan takes from it (name, flags, each member with all
 * their attributes, in the order read). Two reads with the same print plan the same; a reordered
 * read only costs a plan of that group. Multiply-xor lanes over JSON text, 64 bits for the group's
 * own fields and 64 for its members, not a cryptographic hash: a print only has to change when its
 * group does, and a SHA-1 over a million memberships took a second. The text is made natively
 * (JSON.stringify) and walked in one tight loop, which costs half of walking the values in JS.
 */
export function printGroups(groups: readonly DesiredGroup[]): Map<string, string> {
  // a user is in many groups: printed once per call, the print left on the user object (a map from
  // user to print cost several times as much at a million memberships; see mapGroups)
  const call = {};
  const out = new Map<string, string>();
  for (const g of groups) {
    const head = new Lanes().text(
      JSON.stringify([g.source, g.id, g.displayName, g.complete, g.unknownReason ?? null, g.unknownIsReadError ?? null, g.suspect ?? false]),
    );
    const members = new Lanes();
    for (const m of g.members as PrintedUser[]) {
      // the other fields of a source's user (userName, emails, …) are read from `raw` by its configuration
      if (m.printed?.by !== call) m.printed = { by: call, lanes: new Lanes().text(textOf([m.id, m.active, m.raw])) };
      members.mix(m.printed.lanes);
    }
    out.set(g.key, `${head.print()}.${members.print()}`);
  }
  return out;
}

type PrintedUser = SourceUser & { printed?: { by: object; lanes: Lanes } };

/** JSON text in which the numbers JSON cannot write (NaN, ±Infinity: YAML's .nan and .inf, JSON's 1e400) stay apart from null and each other */
function textOf(value: unknown): string {
  const text = JSON.stringify(value);
  // only a text with a null can hide one: the others are not made twice
  return text.includes('null') ? JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? `\u0001${v}` : v)) : text;
}

/** two 32-bit multiply-xor lanes */
class Lanes {
  private a = 0x811c9dc5 | 0;
  private b = 0x9e3779b9 | 0;

  text(text: string): this {
    let a = this.a;
    let b = this.b;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x85ebca6b);
    }
    this.a = a;
    this.b = b;
    return this;
  }

  /** another print, in order */
  mix(other: Lanes): void {
    this.a = Math.imul(this.a ^ other.a, 0x01000193);
    this.a ^= this.a >>> 15;
    this.b = Math.imul(this.b ^ other.b, 0x85ebca6b);
    this.b ^= this.b >>> 13;
  }

  print(): string {
    const a = Math.imul(this.a ^ (this.a >>> 15), 0x2c1b3c6d) ^ this.b;
    const b = Math.imul(this.b ^ (this.b >>> 13), 0x297a2d39) ^ a;
    return `${(a >>> 0).toString(36)}.${(b >>> 0).toString(36)}`;
  }
}

export interface ChangeScope {
  /** the groups the plan takes: the changed ones and every group that feeds a conversation with one */
  keys: Set<string>;
  /** groups read whose print differs from the last complete plan's */
  changed: number;
  /** the conversations planned */
  conversations: Set<string>;
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
  stored: ReadonlyMap<string, string>,
  mappings: readonly MappingConfig[],
  /** the bound conversations, with the groups that fed them at the last plan */
  bound: readonly { key: string; groups: readonly string[] }[],
): ChangeScope | string {
  const gone = [...stored.keys()].filter((k) => !prints.has(k));
  if (gone.length > 0) return `${gone.length} group(s) gone since the last complete plan`;
  const changed = [...prints].filter(([key, print]) => stored.get(key) !== print).map(([key]) => key);
  const fresh = changed.filter((k) => !stored.has(k));
  if (fresh.length > 0) return `${fresh.length} new group(s)`;
  const fedBefore = new Map<string, string[]>();
  for (const c of bound) for (const g of c.groups) (fedBefore.get(g) ?? fedBefore.set(g, []).get(g)!).push(c.key);
  const feedsNow = new Map<string, string>();
  const feeders = new Map<string, string[]>();
  for (const g of groups) {
    const conv = conversationKeyOf(g, mappings);
    if (conv === undefined) continue;
    feedsNow.set(g.key, conv);
    (feeders.get(conv) ?? feeders.set(conv, []).get(conv)!).push(g.key);
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
  const groupsBefore = new Map(bound.map((c) => [c.key, c.groups]));
  for (const conv of conversations) for (const g of [...(feeders.get(conv) ?? []), ...(groupsBefore.get(conv) ?? [])]) keys.add(g);
  return { keys, changed: changed.length, conversations };
}
