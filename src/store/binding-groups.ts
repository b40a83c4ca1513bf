import type Database from 'better-sqlite3';

/** a conversation bound or let go, with the groups that fed it at the last plan */
export interface ConversationGroups {
  key: string;
  groups: string[];
  bound: boolean;
}

type Row = [key: string, groups: string, state: string];

/** Which groups fed each conversation bound or let go, at the last plan that took it (`bindings.groups`). */
export class BindingGroups {
  constructor(private readonly db: Database.Database) {}

  /** every such conversation: what a scoped run starts from */
  all(): ConversationGroups[] {
    const rows = this.db.prepare(`SELECT key, groups, state FROM bindings WHERE state IN ('bound', 'unbound')`).raw().all() as Row[];
    return rows.map(conversationGroupsOf);
  }

  /** the conversations deleted by hand that drift remembers (`gone`), with the groups that fed them when they went */
  gone(): ConversationGroups[] {
    const rows = this.db
      .prepare(`SELECT b.key, b.groups, b.state FROM bindings b JOIN gone g ON g.binding_key = b.key WHERE b.state = 'deleted'`)
      .raw()
      .all() as Row[];
    return rows.map(conversationGroupsOf);
  }

  /**
   * Those that list one of these groups. SQLite picks them out of every conversation's list (a plan
   * of what changed asks of a few hundred groups, where parsing ten thousand lists here took ten
   * times as long).
   */
  listing(groups: readonly string[]): ConversationGroups[] {
    const wanted = new Set(groups);
    // a lone surrogate SQLite keeps comes back here as U+FFFD: a key with one may be such a key as
    // read back, and is looked for among the lists as they are read back
    if (groups.some((g) => g.includes('\uFFFD'))) return this.all().filter((c) => c.groups.some((g) => wanted.has(g)));
    const rows = this.db
      .prepare(
        `SELECT key, groups, state FROM bindings WHERE state IN ('bound', 'unbound')
           AND EXISTS (SELECT 1 FROM json_each(bindings.groups) AS listed WHERE listed.value IN (SELECT value FROM json_each(?)))`,
      )
      .raw()
      .all(JSON.stringify(groups)) as Row[];
    // what SQLite picks for a key with a lone surrogate is checked here as `all` reads it back
    return rows.map(conversationGroupsOf).filter((c) => c.groups.some((g) => wanted.has(g)));
  }
}

function conversationGroupsOf([key, groups, state]: Row): ConversationGroups {
  return { key, groups: JSON.parse(groups) as string[], bound: state === 'bound' };
}
