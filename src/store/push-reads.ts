import type Database from 'better-sqlite3';
import type { PushGroup, PushUser } from './push.js';

/** the rows of `push_users` and `push_groups`, and the resources they hold */
export type UserRow = { id: string; user_name: string; external_id: string | null; active: number; resource: string; created_at: string; updated_at: string };
export type GroupRow = { id: string; display_name: string; external_id: string | null; created_at: string; updated_at: string };

export const toUser = (r: UserRow): PushUser => ({
  id: r.id,
  userName: r.user_name,
  ...(r.external_id !== null ? { externalId: r.external_id } : {}),
  active: r.active === 1,
  resource: JSON.parse(r.resource) as Record<string, unknown>,
  created: r.created_at,
  lastModified: r.updated_at,
});
export const toGroup = (r: GroupRow): PushGroup => ({
  id: r.id,
  displayName: r.display_name,
  ...(r.external_id !== null ? { externalId: r.external_id } : {}),
  created: r.created_at,
  lastModified: r.updated_at,
});

/** a source read whole, or some of its groups: users, groups, and group id → member ids */
export interface WholeSource {
  users: PushUser[];
  groups: PushGroup[];
  members: Map<string, string[]>;
}

/** some groups of a source, with every group nested in them and the users they reach */
export interface SelectedGroups extends WholeSource {
  /** how many groups the source lists in all */
  listed: number;
  /** the ids `select` chose (the others read are only nested in them) */
  selected: Set<string>;
}

const PAGE = 2000;

/**
 * `read` on a connection of its own inside one read transaction, so that every page sees the same
 * state of the source while pushes go on being written between them. An in-memory store has no
 * file another connection could open: it is read on its own connection, without pauses.
 */
async function onReader<T>(db: Database.Database, read: (reader: Database.Database, paused: boolean) => Promise<T>): Promise<T> {
  if (db.memory) return read(db, false);
  const reader = new (db.constructor as typeof Database)(db.name, { readonly: true, fileMustExist: true });
  try {
    reader.exec('BEGIN');
    return await read(reader, true);
  } finally {
    reader.close();
  }
}

/**
 * Reads a whole source in pages of its primary keys and awaits `pause` between pages, so the
 * daemon goes on answering SCIM requests during a run (read at once, 100k users and 1M memberships
 * held the event loop for 5–10 s).
 */
export function readWholeSource(db: Database.Database, source: string, pause: () => Promise<unknown>): Promise<WholeSource> {
  return onReader(db, async (reader, paused) => {
    const out: WholeSource = { users: [], groups: [], members: new Map() };
    const keyed = (table: string, key: string) => reader.prepare(`SELECT * FROM ${table} WHERE source = ? AND ${key} > ? ORDER BY ${key} LIMIT ?`);
    const members = reader.prepare(
      `SELECT group_id, member_id FROM push_members WHERE source = ? AND (group_id, member_id) > (?, ?) ORDER BY group_id, member_id LIMIT ?`,
    );
    for (const [statement, push] of [
      [keyed('push_users', 'id'), (r: UserRow) => out.users.push(toUser(r))],
      [keyed('push_groups', 'id'), (r: GroupRow) => out.groups.push(toGroup(r))],
    ] as const) {
      let after = '';
      for (;;) {
        const rows = statement.all(source, after, PAGE) as { id: string }[];
        for (const r of rows) push(r as never);
        if (rows.length < PAGE) break;
        after = rows.at(-1)!.id;
        if (paused) await pause();
      }
    }
    let after = ['', ''];
    for (;;) {
      const rows = members.raw().all(source, after[0], after[1], PAGE * 10) as [string, string][];
      for (const [g, m] of rows) (out.members.get(g) ?? out.members.set(g, []).get(g)!).push(m);
      if (rows.length < PAGE * 10) break;
      after = rows.at(-1)!;
      if (paused) await pause();
    }
    return out;
  });
}

/**
 * The groups `select` picks from the source's listing (id and name of every group), every group
 * nested in them, and the users those reach: what a run of a few groups needs, at a cost that
 * follows those groups and not the directory. One read transaction, `pause` awaited every
 * `PAGE` rows.
 */
export function readSelectedGroups(
  db: Database.Database,
  source: string,
  select: (heads: readonly { id: string; displayName: string }[]) => ReadonlySet<string>,
  pause: () => Promise<unknown>,
): Promise<SelectedGroups> {
  return onReader(db, async (reader, paused) => {
    const heads = reader.prepare(`SELECT id, display_name AS displayName FROM push_groups WHERE source = ?`).all(source) as {
      id: string;
      displayName: string;
    }[];
    const isGroup = new Set(heads.map((h) => h.id));
    const selected = new Set([...select(heads)].filter((id) => isGroup.has(id)));
    const out: SelectedGroups = { users: [], groups: [], members: new Map(), listed: heads.length, selected };
    const groupRow = reader.prepare(`SELECT * FROM push_groups WHERE source = ? AND id = ?`);
    const memberIds = reader.prepare(`SELECT member_id FROM push_members WHERE source = ? AND group_id = ? ORDER BY member_id`).pluck();
    const userRow = reader.prepare(`SELECT * FROM push_users WHERE source = ? AND id = ?`);
    let rows = 0;
    const counted = async (n: number) => {
      rows += n;
      if (paused && rows >= PAGE) {
        rows = 0;
        await pause();
      }
    };
    const queue = [...selected];
    const seen = new Set(queue);
    const userIds = new Set<string>();
    // an index, not shift(): a group nesting thousands of groups stays linear
    for (let i = 0; i < queue.length; i++) {
      const id = queue[i]!;
      out.groups.push(toGroup(groupRow.get(source, id) as GroupRow));
      const ids = memberIds.all(source, id) as string[];
      out.members.set(id, ids);
      for (const m of ids) {
        if (!isGroup.has(m)) userIds.add(m);
        else if (!seen.has(m)) {
          seen.add(m);
          queue.push(m);
        }
      }
      await counted(ids.length + 1);
    }
    for (const id of userIds) {
      const row = userRow.get(source, id);
      if (row !== undefined) out.users.push(toUser(row as UserRow));
      await counted(1);
    }
    return out;
  });
}

/** the `value` of each email of a SCIM user resource, as look-ups by email compare them */
export function emailValues(resource: Record<string, unknown>): string[] {
  const emails = resource.emails;
  if (!Array.isArray(emails)) return [];
  const values = emails.map((e) => (typeof e === 'object' && e !== null ? (e as { value?: unknown }).value : undefined));
  return [...new Set(values.filter((v): v is string => typeof v === 'string'))];
}
