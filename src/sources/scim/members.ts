import { AuthError, PermanentError } from '../../errors.js';
import type { DesiredGroup, SourceUser } from '../types.js';
import type { ScimClient } from './client.js';
import { parseGroup, parseUser, type ScimGroup, type ScimMember } from './parse.js';

/** GET /Groups/{id} with its members; undefined when the provider answers 404 */
export async function readGroup(client: ScimClient, source: string, id: string, signal: AbortSignal, warnings: string[]): Promise<ScimGroup | undefined> {
  const raw = await client.get(`/Groups/${encodeURIComponent(id)}`, {}, signal);
  if (raw === undefined) return undefined;
  const g = parseGroup(source, raw as Record<string, unknown>, warnings);
  if (!g) throw new Error(`group ${id} is not a valid SCIM Group`);
  return g;
}

export interface MemberContext {
  source: string;
  client: ScimClient;
  expandNested: boolean;
  /** the listed groups whose members were read */
  groups: ReadonlyMap<string, ScimGroup>;
  /** listed in this run, then 404 when read: unknown, not gone */
  vanished: ReadonlySet<string>;
  /** the users listed so far; users read one by one are added */
  users: Map<string, SourceUser>;
  warnings: string[];
  signal: AbortSignal;
}

/**
 * A listed group's members as users: nested groups expanded (cycle-safe), members the user listing
 * missed read one by one. Whatever could not be read makes the group unknown (`complete: false`).
 */
export class MemberResolver {
  private readonly nested = new Map<string, ScimGroup | undefined>();
  /** nested groups read by id in this read (not listed, not known before) */
  readonly readNested = new Map<string, ScimGroup>();
  /** users read one by one in this read (the user listing missed them, or it was not read) */
  readonly readUsers = new Map<string, SourceUser>();

  /** `known`: nested groups that are not listed, as an earlier read left them */
  constructor(
    private readonly ctx: MemberContext,
    known?: ReadonlyMap<string, ScimGroup>,
  ) {
    for (const [id, g] of known ?? []) this.nested.set(id, g);
  }

  async desiredGroup(g: ScimGroup): Promise<DesiredGroup> {
    const { source, groups, vanished, users, expandNested } = this.ctx;
    const group: DesiredGroup = { key: `${source}:${g.id}`, source, id: g.id, displayName: g.displayName, members: [], complete: true };
    const members = new Map<string, SourceUser>();
    const visited = new Set<string>([g.id]);
    const queue: ScimMember[] = [...(g.members ?? [])];
    const dangling: string[] = [];
    const unknown = (why: string) => {
      group.complete = false;
      group.unknownReason = why;
    };
    /** false: no such group (404; or 400 or 410 for a member only guessed to be a group) */
    const expand = async (id: string, guessed = false): Promise<boolean> => {
      if (!expandNested || visited.has(id)) return true;
      visited.add(id);
      const inner = await this.nestedGroup(id, guessed);
      if (inner === 'failed') unknown(`nested group ${id} could not be read`);
      else if (inner === 'vanished') unknown(`nested group ${id} was listed, then vanished during the read`);
      // as for a listed group (context.ts)
      else if (inner && inner.members === undefined) unknown(`nested group ${id} came without its members attribute`);
      else if (inner) queue.push(...inner.members!);
      return inner !== undefined;
    };
    for (let i = 0; i < queue.length; i++) {
      const m = queue[i]!;
      const isGroup = m.type === 'Group' || (m.type === undefined && (groups.has(m.value) || vanished.has(m.value)) && !users.has(m.value));
      if (isGroup) {
        if (!(await expand(m.value))) dangling.push(`group ${m.value}`);
        continue;
      }
      const user = await this.resolveUser(m.value);
      if (user === 'failed') unknown(`member ${m.value} could not be resolved through /Users`);
      else if (user === 'rejected') unknown(`member ${m.value}: the provider's answer for it was rejected`);
      // `type` is optional (RFC 7643 §4.2): an untyped member no user has may be a group the listing's filter left out
      else if (user === 'missing' && (m.type === 'User' || !expandNested || !(await expand(m.value, true)))) dangling.push(m.value);
      else if (user !== 'missing') members.set(user.id, user);
    }
    if (dangling.length > 0) {
      this.ctx.warnings.push(
        `${group.key} ("${g.displayName}") lists ${dangling.length} member(s) that the provider does not know (${dangling.slice(0, 5).join(', ')}): left out`,
      );
    }
    group.members = [...members.values()];
    return group;
  }

  private async nestedGroup(id: string, guessed: boolean): Promise<ScimGroup | undefined | 'failed' | 'vanished'> {
    if (this.ctx.vanished.has(id)) return 'vanished';
    const known = this.ctx.groups.get(id);
    if (known?.members) return known;
    if (this.nested.has(id)) return this.nested.get(id);
    try {
      const g = await readGroup(this.ctx.client, this.ctx.source, id, this.ctx.signal, this.ctx.warnings);
      this.nested.set(id, g);
      if (g) this.readNested.set(id, g);
      return g;
    } catch (e) {
      if (e instanceof AuthError) throw e;
      // asked only because /Users did not know the id: a provider refusing it as a group id says it is none
      if (guessed && e instanceof PermanentError && (e.status === 400 || e.status === 410)) return undefined;
      return 'failed';
    }
  }

  /** 'missing' only on a 404: a user the provider answered with a resource convsync rejects is unknown, never left out */
  private async resolveUser(id: string): Promise<SourceUser | 'missing' | 'failed' | 'rejected'> {
    const known = this.ctx.users.get(id);
    if (known) return known;
    try {
      const raw = await this.ctx.client.get(`/Users/${encodeURIComponent(id)}`, {}, this.ctx.signal);
      if (raw === undefined) return 'missing';
      const u = parseUser(this.ctx.source, raw as Record<string, unknown>, this.ctx.warnings);
      if (!u) return 'rejected';
      this.ctx.users.set(u.id, u);
      this.readUsers.set(u.id, u);
      return u;
    } catch (e) {
      if (e instanceof AuthError) throw e;
      return 'failed';
    }
  }
}
