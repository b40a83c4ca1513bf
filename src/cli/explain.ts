import type { MappingConfig } from '../config/schema.js';
import { identityValue, type IdentityResolver } from '../identity/resolve.js';
import { matchGroup } from '../mapping/map.js';
import type { BlockedOp, DesiredConversation, Plan, PlanOp, Snapshot, SnapshotConversation } from '../plan/types.js';
import type { DesiredGroup, SourceUser } from '../sources/types.js';

export interface ExplainInput {
  plan: Plan;
  groups: DesiredGroup[];
  desired: DesiredConversation[];
  snapshot: Snapshot;
  identity: IdentityResolver;
  identityFrom: string;
  mappings: readonly MappingConfig[];
  /** a backend user id in the backend's one form (Wire: lower case, own domain left off), or undefined */
  parseUserId?: (value: string) => string | undefined;
}

/** what the plan says about one conversation, or one member of it */
function planFor(input: ExplainInput, key: string, member?: string): string[] {
  const hit = (op: PlanOp) => op.key === key && (member === undefined || !('members' in op) || op.members.includes(member));
  const lines = input.plan.ops
    .filter(hit)
    .map((op) => `plan: ${op.op}${'members' in op && member === undefined ? ` ${op.members.length} member(s)` : ''} — why: ${op.reason}`);
  lines.push(...input.plan.blocked.filter((b: BlockedOp) => hit(b.op)).map((b) => `held back (${b.kind}): ${b.op.op} — why: ${b.why}`));
  return lines.length > 0 ? lines : ['plan: nothing to do'];
}

function snapshotOf(input: ExplainInput, key: string): SnapshotConversation | undefined {
  return input.snapshot.conversations.find((c) => c.key === key);
}

function describeMembership(snap: SnapshotConversation | undefined, id: string): string {
  if (!snap) return 'no conversation yet';
  const origin = snap.members.origin(id);
  if (origin === 'convsync') return 'a member (added by convsync)';
  if (origin === 'external') return 'a member (added by hand)';
  if (snap.leavers?.includes(id)) return 'left the conversation on their own';
  return 'not a member';
}

/** The path of one user: source → groups → mapping → identity → conversations → plan. */
export function explainUser(input: ExplainInput, query: string): string | undefined {
  const q = query.toLowerCase();
  // the backend id as given, or in the backend's one form
  const ids = new Set([q, input.parseUserId?.(query)].filter((id) => id !== undefined));
  const matches = (u: SourceUser) => {
    const values = [u.id, u.userName, u.externalId, identityValue(u, input.identityFrom), ...u.emails, typeof u.raw.dn === 'string' ? u.raw.dn : undefined];
    const id = input.identity.resolve(u);
    return values.some((v) => v?.toLowerCase() === q) || (id !== undefined && ids.has(id));
  };
  const found = new Map<string, { user: SourceUser; groups: DesiredGroup[] }>();
  for (const g of input.groups) {
    for (const u of g.members) {
      if (!matches(u)) continue;
      const entry = found.get(`${g.source}:${u.id}`) ?? { user: u, groups: [] };
      entry.groups.push(g);
      found.set(`${g.source}:${u.id}`, entry);
    }
  }
  if (found.size === 0) return explainByBackendId(input, query);
  const out: string[] = [];
  for (const { user, groups } of found.values()) {
    const value = identityValue(user, input.identityFrom);
    const id = input.identity.resolve(user);
    out.push(`User ${user.userName ?? user.id} (source ${groups[0]!.source}, id ${user.id}${user.active ? '' : ', DEACTIVATED: leaves every conversation'})`);
    // an LDAP source keeps where the user lives in the directory
    if (typeof user.raw.dn === 'string') out.push(`  LDAP path: ${user.raw.dn}`);
    out.push(
      `  identity: ${input.identityFrom} = ${value === undefined ? '(missing)' : JSON.stringify(value)} → ${id ?? 'no backend user: left out of every conversation'}`,
    );
    for (const g of groups) {
      const m = matchGroup(g, input.mappings);
      out.push(`  group ${g.key} "${g.displayName}"${g.complete ? '' : ` (membership unknown: ${g.unknownReason})`}`);
      if (!m) {
        out.push('    no mapping matches: not synced');
        continue;
      }
      const d = input.desired.find((x) => x.groups.includes(g.key));
      if (!d) continue;
      out.push(`    mapping #${m.rule} → conversation "${d.name}" (${d.key}, remove: ${d.remove})`);
      if (id) {
        out.push(`    now: ${describeMembership(snapshotOf(input, d.key), id)}`);
        for (const l of planFor(input, d.key, id)) out.push(`    ${l}`);
      }
    }
    // conversations the snapshot has them in, that no group of theirs feeds any more
    const fed = new Set(groups.flatMap((g) => input.desired.filter((d) => d.groups.includes(g.key)).map((d) => d.key)));
    for (const c of input.snapshot.conversations) {
      if (!id || fed.has(c.key) || !c.members.has(id)) continue;
      out.push(`  conversation "${c.name}" (${c.key}): ${describeMembership(c, id)}, in none of its groups`);
      for (const l of planFor(input, c.key, id)) out.push(`    ${l}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** someone in no group of the sources (a leaver), found by their backend id in the conversations convsync keeps */
function explainByBackendId(input: ExplainInput, query: string): string | undefined {
  const id = [query, query.toLowerCase(), input.parseUserId?.(query)].find(
    (q) => q !== undefined && input.snapshot.conversations.some((c) => c.members.has(q)),
  );
  if (id === undefined) return undefined;
  const out = [`User ${id} (backend id): in no group of the sources`];
  for (const c of input.snapshot.conversations) {
    if (!c.members.has(id)) continue;
    out.push(`  conversation "${c.name}" (${c.key}): ${describeMembership(c, id)}, in none of its groups`);
    for (const l of planFor(input, c.key, id)) out.push(`    ${l}`);
  }
  return `${out.join('\n')}\n`;
}

/** The path of one group: source → mapping → conversation → binding → plan. */
export function explainGroup(input: ExplainInput, query: string): string | undefined {
  const q = query.toLowerCase();
  const groups = input.groups.filter((g) => [g.key, g.id, g.displayName].some((v) => v.toLowerCase() === q));
  if (groups.length === 0) return undefined;
  const out: string[] = [];
  for (const g of groups) {
    const resolved = g.members.filter((u) => u.active && input.identity.resolve(u) !== undefined).length;
    const inactive = g.members.filter((u) => !u.active).length;
    out.push(
      `Group ${g.key} "${g.displayName}" (source ${g.source}): ${g.members.length} member(s)${g.complete ? '' : `, membership UNKNOWN (removals frozen): ${g.unknownReason}`}`,
    );
    out.push(`  identity: ${resolved} resolved to backend users, ${inactive} deactivated, ${g.members.length - resolved - inactive} without a backend user`);
    const m = matchGroup(g, input.mappings);
    if (!m) {
      out.push('  no mapping matches: not synced');
      continue;
    }
    const d = input.desired.find((x) => x.groups.includes(g.key));
    if (!d) continue;
    const others = d.groups.filter((k) => k !== g.key);
    out.push(`  mapping #${m.rule} → conversation "${d.name}" (${d.key}, remove: ${d.remove}${others.length ? `, united with ${others.join(', ')}` : ''})`);
    const snap = snapshotOf(input, d.key);
    out.push(
      snap
        ? `  bound to ${snap.conversationId} (owner ${snap.ownerId}): ${snap.members.size} member(s) known${snap.leavers?.length ? `, ${snap.leavers.length} left on their own` : ''}`
        : (input.snapshot.gone ?? []).includes(d.key)
          ? '  its conversation was deleted by hand'
          : '  no conversation yet',
    );
    for (const l of planFor(input, d.key)) out.push(`  ${l}`);
  }
  return `${out.join('\n')}\n`;
}
