import type { MappingConfig } from '../config/schema.js';
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

  constructor(
    readonly groups: ReadonlySet<string>,
    private readonly mappings: readonly MappingConfig[],
    /** every conversation bound or let go, with the groups that fed it at the last plan */
    known: readonly { key: string; groups: readonly string[] }[],
  ) {
    for (const c of known) if (c.groups.some((g) => groups.has(g))) this.conversations.add(c.key);
  }

  /** of one listing (all the groups of the sources read, in one call), the keys of the groups these conversations need */
  select(heads: readonly GroupHead[]): Set<string> {
    const feeds = heads.map((h) => conversationKeyOf(h, this.mappings));
    heads.forEach((h, i) => {
      if (this.groups.has(h.key) && feeds[i] !== undefined) this.conversations.add(feeds[i]);
    });
    const keys = new Set<string>();
    heads.forEach((h, i) => {
      if (this.groups.has(h.key) || (feeds[i] !== undefined && this.conversations.has(feeds[i]))) keys.add(h.key);
    });
    return keys;
  }
}
