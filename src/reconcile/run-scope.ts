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
   * Bound conversations no group feeds any more, there only to be taken over as a full plan would
   * (a group made again under a new id while its old conversation is still held): never let go here.
   */
  readonly claimOnly = new Set<string>();
  private readonly bound: ReadonlySet<string>;

  constructor(
    readonly groups: ReadonlySet<string>,
    private readonly mappings: readonly MappingConfig[],
    /** every conversation bound or let go, with the groups that fed it at the last plan */
    private readonly known: readonly { key: string; groups: readonly string[]; bound: boolean }[],
  ) {
    for (const c of known) if (c.groups.some((g) => groups.has(g))) this.conversations.add(c.key);
    this.bound = new Set(known.filter((c) => c.bound).map((c) => c.key));
  }

  /** of one listing (all the groups of the sources read, in one call), the keys of the groups these conversations need */
  select(heads: readonly GroupHead[]): Set<string> {
    const feeds = heads.map((h) => conversationKeyOf(h, this.mappings));
    heads.forEach((h, i) => {
      if (this.groups.has(h.key) && feeds[i] !== undefined) this.conversations.add(feeds[i]);
    });
    // a group that would make a conversation may take over one of its name that no group wants
    if (heads.some((h, i) => this.groups.has(h.key) && feeds[i] !== undefined && !this.bound.has(feeds[i]))) {
      const listed = new Set(heads.map((h) => h.source));
      const fedNow = new Set(feeds);
      for (const c of this.known) {
        const leaving = c.bound && !fedNow.has(c.key) && !this.conversations.has(c.key);
        if (leaving && c.groups.length > 0 && c.groups.every((g) => listed.has(sourceOfGroup(g)))) this.claimOnly.add(c.key);
      }
    }
    const keys = new Set<string>();
    heads.forEach((h, i) => {
      if (this.groups.has(h.key) || (feeds[i] !== undefined && this.conversations.has(feeds[i]))) keys.add(h.key);
    });
    return keys;
  }
}
