import type { MappingConfig } from '../config/schema.js';
import { sourceOfGroup } from '../group-key.js';
import { conversationKeyOf } from '../mapping/map.js';
import type { GroupHead } from '../sources/types.js';

/**
 * What a run scoped to some groups (after a push or a SAML login) plans: every conversation those
 * groups feed now or fed at the last plan, each whole, with every group that feeds it now. For
 * those conversations, reading only these groups plans what reading every group would; a
 * conversation a group left is planned with the groups still in it, not let go.
 */
export class RunScope {
  /** the conversations planned; those the scoped groups feed now are added as their listings are read */
  readonly conversations = new Set<string>();
  /**
   * Conversations of one group (bound or let go) no group feeds any more, there only to be taken
   * over as a full plan would (a group made again under a new id).
   */
  readonly claimOnly = new Set<string>();
  private readonly bound: ReadonlySet<string>;

  constructor(
    readonly groups: ReadonlySet<string>,
    private readonly mappings: readonly MappingConfig[],
    /** every conversation bound or let go, with the groups that fed it at the last plan */
    readonly known: readonly { key: string; groups: readonly string[]; bound: boolean }[],
    /** the conversations deleted by hand that drift remembers, with the groups that fed them: planned whole too, so their memory is kept or let go as a full plan would */
    gone: readonly { key: string; groups: readonly string[] }[] = [],
  ) {
    for (const c of [...known, ...gone]) if (c.groups.some((g) => groups.has(g))) this.conversations.add(c.key);
    this.bound = new Set(known.filter((c) => c.bound).map((c) => c.key));
  }

  /** of one listing (all the groups of the sources read, in one call), the keys of the groups these conversations need */
  select(heads: readonly GroupHead[]): Set<string> {
    const feeds = heads.map((h) => conversationKeyOf(h, this.mappings));
    heads.forEach((h, i) => {
      if (this.groups.has(h.key) && feeds[i] !== undefined) this.conversations.add(feeds[i]);
    });
    if (heads.some((h, i) => this.groups.has(h.key) && feeds[i] !== undefined && !this.bound.has(feeds[i]))) this.addClaimable(heads, feeds);
    const keys = new Set<string>();
    heads.forEach((h, i) => {
      if (this.groups.has(h.key) || (feeds[i] !== undefined && this.conversations.has(feeds[i]))) keys.add(h.key);
    });
    return keys;
  }

  /**
   * A group that would make a conversation may take over one of its name that no group wants, as
   * in a full plan: when every bound conversation is fed by the sources listed (so that none of
   * that name is left unseen), the conversations of one group (`group:` keys, which no other group
   * can feed) whose group no rule takes now.
   */
  private addClaimable(heads: readonly GroupHead[], feeds: readonly (string | undefined)[]): void {
    const listed = new Set(heads.map((h) => h.source));
    const bound = this.known.filter((c) => c.bound);
    if (!bound.every((c) => c.groups.length > 0 && c.groups.every((g) => listed.has(sourceOfGroup(g))))) return;
    const fedNow = new Set(feeds);
    // let go earlier too: a group deleted, then made again under a new id, takes its conversation back
    for (const c of this.known) if (c.key.startsWith('group:') && !fedNow.has(c.key) && !this.conversations.has(c.key)) this.claimOnly.add(c.key);
  }

  /**
   * What this run must not let go: what it holds only to be taken over, and, when a source was not
   * read, every conversation a rule unites groups into (`conv:` keys), which a group of that source
   * may feed now.
   */
  neverLetGo(someSourceUnread: boolean): Set<string> {
    const keep = new Set(this.claimOnly);
    if (someSourceUnread) for (const k of this.conversations) if (k.startsWith('conv:')) keep.add(k);
    return keep;
  }
}
