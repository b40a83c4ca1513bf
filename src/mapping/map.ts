import { regexVars, renderTemplate } from '../template.js';
import type { MappingConfig } from '../config/schema.js';
import { MemberList } from '../members/member-list.js';
import { UserIds } from '../members/user-ids.js';
import type { DesiredConversation, RemovedGroupAction } from '../plan/types.js';
import type { DesiredGroup, GroupHead, SourceUser } from '../sources/types.js';

export interface MappingResult {
  conversations: DesiredConversation[];
  /** groups that no rule matched (not an error: most directories have groups nobody syncs) */
  unmatched: number;
  warnings: string[];
}

interface Matched {
  rule: number;
  vars: Record<string, string>;
}

/** The first rule that matches a group wins. */
export function matchGroup(group: GroupHead, mappings: readonly MappingConfig[]): Matched | undefined {
  for (let i = 0; i < mappings.length; i++) {
    const m = mappings[i]!.match;
    if (m.source !== undefined && m.source !== group.source) continue;
    const vars: Record<string, string> = { displayName: group.displayName, id: group.id, source: group.source };
    if (matchInto(m.displayName, group.displayName, vars) && matchInto(m.id, group.id, vars)) return { rule: i, vars };
  }
  return undefined;
}

/**
 * The conversation a group feeds under the first rule that matches it; undefined when none does. A
 * rule that names no conversation needs no variables, and a plan of what changed asks this of every
 * group: testing the patterns alone took a tenth of the time in a new process.
 */
export function conversationKeyOf(group: GroupHead, mappings: readonly MappingConfig[]): string | undefined {
  const rule = mappings.findIndex(
    ({ match: m }) => (m.source === undefined || m.source === group.source) && tests(m.displayName, group.displayName) && tests(m.id, group.id),
  );
  if (rule < 0) return undefined;
  if (!mappings[rule]!.conversation) return `group:${group.key}`;
  return conversationKey(group, mappings[rule]!, matchGroup(group, mappings)!.vars);
}

function tests(pattern: string | undefined, value: string): boolean {
  return pattern === undefined || compiled(pattern).test(value);
}

function conversationKey(group: GroupHead, rule: MappingConfig, vars: Record<string, string>): string {
  return rule.conversation ? `conv:${renderTemplate(rule.conversation, vars)}` : `group:${group.key}`;
}

/** no pattern matches anything; a match adds its variables */
function matchInto(pattern: string | undefined, value: string, vars: Record<string, string>): boolean {
  if (pattern === undefined) return true;
  const found = compiled(pattern).exec(value);
  if (found) Object.assign(vars, regexVars(found));
  return found !== null;
}

// a handful of patterns from the configuration, each matched against every group of every run
const regexes = new Map<string, RegExp>();
function compiled(pattern: string): RegExp {
  let regex = regexes.get(pattern);
  if (regex === undefined) regexes.set(pattern, (regex = new RegExp(pattern)));
  return regex;
}

/**
 * Groups → the conversations they should become. Groups whose rule renders the same
 * `conversation` key are merged (their members united). Deactivated users are left out: they leave
 * every conversation they were in.
 */
export function mapGroups(
  groups: readonly DesiredGroup[],
  mappings: readonly MappingConfig[],
  resolve: (user: SourceUser) => string | undefined,
  /** the backend's default for a conversation whose groups are gone */
  removedDefault: RemovedGroupAction = 'keep',
  /** where member ids are numbered: the snapshot's, so the plan compares numbers */
  users: UserIds = UserIds.empty(),
  parts: GroupRefs = {},
): MappingResult {
  const byKey = new Map<string, { d: DesiredConversation; parts: Int32Array[]; names: Map<string, string>; rules: Set<number> }>();
  // each user resolved once, however many groups they are in: their number (0: deactivated, or no
  // backend id) is left on the user object for this call. A map from user to number cost three
  // times as much per membership (a hash lookup each, cache misses at a million memberships).
  const call = {};
  let unmatched = 0;
  const sorted = [...groups].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const group of sorted) {
    const matched = matchGroup(group, mappings);
    if (!matched) {
      unmatched++;
      continue;
    }
    const rule = mappings[matched.rule]!;
    const key = conversationKey(group, rule, matched.vars);
    const name = renderTemplate(rule.name, matched.vars);
    const settings = settingsOf(rule, matched.rule, name, removedDefault);
    let entry = byKey.get(key);
    if (!entry) {
      entry = {
        d: { key, ...settings, groups: [], members: MemberList.empty, complete: true, unknownReasons: [] },
        parts: [],
        names: new Map(),
        rules: new Set(),
      };
      byKey.set(key, entry);
    }
    // whichever group comes first, the first rule (in the configuration's order) says how the conversation is kept
    if (matched.rule < entry.d.rule) Object.assign(entry.d, settings);
    entry.rules.add(matched.rule);
    entry.d.groups.push(group.key);
    entry.names.set(group.key, name);
    if (group.suspect) entry.d.suspect = true;
    if (!group.complete) {
      entry.d.complete = false;
      entry.d.unknownReasons.push(`${group.key} ("${group.displayName}"): ${group.unknownReason ?? 'membership unknown'}`);
    }
    const known = parts.of?.(group);
    const refs = known ?? refsOf(group.members, resolve, users, call, parts.resolved && ((part) => parts.resolved!(group, part)));
    if (known) parts.resolved?.(group, { refs: known, unresolved: 0 });
    // a copy: a conversation of one group sorts its numbers in place
    entry.parts.push(parts.resolved ? refs.slice() : refs);
  }
  const warnings: string[] = [];
  const conversations = [...byKey.values()].map(({ d, parts, names, rules }) => {
    const distinct = new Set(names.values());
    if (distinct.size > 1) {
      warnings.push(`${d.key} is fed by groups whose names render differently (${[...distinct].join(' | ')}): using "${d.name}"`);
    }
    const differ = [...rules].filter((r) => !sameSettings(settingsOf(mappings[r]!, r, d.name, removedDefault), d));
    if (differ.length > 0) {
      warnings.push(`${d.key} is fed by groups of rules #${[d.rule, ...differ].join(', #')}, which keep it differently: rule #${d.rule}'s settings apply`);
    }
    return { ...d, members: MemberList.fromRefs(users, parts.length === 1 ? parts[0]! : concat(parts)) };
  });
  return { conversations, unmatched, warnings };
}

type Settings = Pick<DesiredConversation, 'name' | 'rule' | 'remove' | 'onGroupRemoved' | 'readdLeavers' | 'recreateDeleted'>;

/** how a rule keeps the conversations it makes */
function settingsOf(rule: MappingConfig, index: number, name: string, removedDefault: RemovedGroupAction): Settings {
  return {
    name,
    rule: index,
    remove: rule.remove,
    onGroupRemoved: rule.onGroupRemoved ?? removedDefault,
    readdLeavers: rule.readdLeavers,
    recreateDeleted: rule.recreateDeleted,
  };
}

function sameSettings(a: Settings, b: Settings): boolean {
  return a.remove === b.remove && a.onGroupRemoved === b.onGroupRemoved && a.readdLeavers === b.readdLeavers && a.recreateDeleted === b.recreateDeleted;
}

/** a group's members numbered as backend ids, one number per member resolved (repeats kept; deactivated members and those without a backend id left out) */
function refsOf(
  members: readonly SourceUser[],
  resolve: (user: SourceUser) => string | undefined,
  users: UserIds,
  call: object,
  tell: ((part: { refs: Int32Array; unresolved: number }) => void) | undefined,
): Int32Array {
  const refs = new Int32Array(members.length);
  let n = 0;
  let unresolved = 0;
  for (let i = 0; i < members.length; i++) {
    const user = members[i]!;
    let ref: number;
    if (user.numbered?.by === call) ref = user.numbered.ref;
    else {
      const id = user.active ? resolve(user) : undefined;
      ref = id === undefined ? 0 : users.ref(id);
      user.numbered = { by: call, ref };
    }
    if (ref !== 0) refs[n++] = ref;
    else if (user.active) unresolved++;
  }
  tell?.({ refs: refs.subarray(0, n), unresolved });
  return refs.subarray(0, n);
}

/**
 * Groups whose members' numbers are known without their members (`of`), and where each group's
 * numbers are told as they are found (`resolved`: the part a later plan may start from)
 */
export interface GroupRefs {
  of?: (group: DesiredGroup) => Int32Array | undefined;
  resolved?: (group: DesiredGroup, part: { refs: Int32Array; unresolved: number }) => void;
}

function concat(parts: readonly Int32Array[]): Int32Array {
  const all = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}
