import type Database from 'better-sqlite3';

export interface PushUser {
  id: string;
  userName: string;
  externalId?: string;
  active: boolean;
  /** the SCIM resource as accepted (extension attributes included) */
  resource: Record<string, unknown>;
  created: string;
  lastModified: string;
}

export interface PushGroup {
  id: string;
  displayName: string;
  externalId?: string;
  created: string;
  lastModified: string;
}

type UserRow = { id: string; user_name: string; external_id: string | null; active: number; resource: string; created_at: string; updated_at: string };
type GroupRow = { id: string; display_name: string; external_id: string | null; created_at: string; updated_at: string };

const toUser = (r: UserRow): PushUser => ({
  id: r.id,
  userName: r.user_name,
  ...(r.external_id !== null ? { externalId: r.external_id } : {}),
  active: r.active === 1,
  resource: JSON.parse(r.resource) as Record<string, unknown>,
  created: r.created_at,
  lastModified: r.updated_at,
});
const toGroup = (r: GroupRow): PushGroup => ({
  id: r.id,
  displayName: r.display_name,
  ...(r.external_id !== null ? { externalId: r.external_id } : {}),
  created: r.created_at,
  lastModified: r.updated_at,
});

/**
 * What SCIM push sources sent, kept in the store so it survives restarts and is the desired state
 * of those groups. Membership changes are row inserts and deletes: their cost follows the change.
 */
export class PushStore {
  constructor(private readonly db: Database.Database) {}

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  user(source: string, id: string): PushUser | undefined {
    const r = this.db.prepare(`SELECT * FROM push_users WHERE source = ? AND id = ?`).get(source, id) as UserRow | undefined;
    return r && toUser(r);
  }

  userByName(source: string, userName: string): PushUser | undefined {
    const r = this.db.prepare(`SELECT * FROM push_users WHERE source = ? AND user_name = ? COLLATE NOCASE`).get(source, userName) as UserRow | undefined;
    return r && toUser(r);
  }

  users(source: string): PushUser[] {
    return (this.db.prepare(`SELECT * FROM push_users WHERE source = ? ORDER BY id`).all(source) as UserRow[]).map(toUser);
  }

  putUser(source: string, u: Omit<PushUser, 'created' | 'lastModified'>, now: string): PushUser {
    this.db
      .prepare(
        `INSERT INTO push_users (source, id, user_name, external_id, active, resource, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (source, id) DO UPDATE SET user_name = excluded.user_name, external_id = excluded.external_id,
           active = excluded.active, resource = excluded.resource, updated_at = excluded.updated_at`,
      )
      .run(source, u.id, u.userName, u.externalId ?? null, u.active ? 1 : 0, JSON.stringify(u.resource), now, now);
    return this.user(source, u.id)!;
  }

  deleteUser(source: string, id: string): boolean {
    return this.transaction(() => {
      this.db.prepare(`DELETE FROM push_members WHERE source = ? AND member_id = ?`).run(source, id);
      return this.db.prepare(`DELETE FROM push_users WHERE source = ? AND id = ?`).run(source, id).changes > 0;
    });
  }

  group(source: string, id: string): PushGroup | undefined {
    const r = this.db.prepare(`SELECT * FROM push_groups WHERE source = ? AND id = ?`).get(source, id) as GroupRow | undefined;
    return r && toGroup(r);
  }

  groups(source: string): PushGroup[] {
    return (this.db.prepare(`SELECT * FROM push_groups WHERE source = ? ORDER BY id`).all(source) as GroupRow[]).map(toGroup);
  }

  putGroup(source: string, g: { id: string; displayName: string; externalId?: string | undefined }, now: string): PushGroup {
    this.db
      .prepare(
        `INSERT INTO push_groups (source, id, display_name, external_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (source, id) DO UPDATE SET display_name = excluded.display_name, external_id = excluded.external_id,
           updated_at = excluded.updated_at`,
      )
      .run(source, g.id, g.displayName, g.externalId ?? null, now, now);
    return this.group(source, g.id)!;
  }

  touchGroup(source: string, id: string, now: string): void {
    this.db.prepare(`UPDATE push_groups SET updated_at = ? WHERE source = ? AND id = ?`).run(now, source, id);
  }

  deleteGroup(source: string, id: string): boolean {
    return this.transaction(() => {
      this.db.prepare(`DELETE FROM push_members WHERE source = ? AND (group_id = ? OR member_id = ?)`).run(source, id, id);
      return this.db.prepare(`DELETE FROM push_groups WHERE source = ? AND id = ?`).run(source, id).changes > 0;
    });
  }

  members(source: string, groupId: string): string[] {
    return this.db.prepare(`SELECT member_id FROM push_members WHERE source = ? AND group_id = ? ORDER BY member_id`).pluck().all(source, groupId) as string[];
  }

  /** every membership of a source, group id → member ids */
  allMembers(source: string): Map<string, string[]> {
    const out = new Map<string, string[]>();
    const rows = this.db.prepare(`SELECT group_id, member_id FROM push_members WHERE source = ?`).raw().iterate(source) as IterableIterator<[string, string]>;
    for (const [g, m] of rows) {
      const list = out.get(g) ?? [];
      list.push(m);
      out.set(g, list);
    }
    return out;
  }

  hasMember(source: string, groupId: string, memberId: string): boolean {
    return this.db.prepare(`SELECT 1 FROM push_members WHERE source = ? AND group_id = ? AND member_id = ?`).get(source, groupId, memberId) !== undefined;
  }

  groupsOf(source: string, memberId: string): string[] {
    return this.db.prepare(`SELECT group_id FROM push_members WHERE source = ? AND member_id = ?`).pluck().all(source, memberId) as string[];
  }

  addMembers(source: string, groupId: string, ids: string[]): number {
    const ins = this.db.prepare(`INSERT INTO push_members (source, group_id, member_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`);
    return ids.reduce((n, id) => n + ins.run(source, groupId, id).changes, 0);
  }

  removeMembers(source: string, groupId: string, ids: string[]): number {
    const del = this.db.prepare(`DELETE FROM push_members WHERE source = ? AND group_id = ? AND member_id = ?`);
    return ids.reduce((n, id) => n + del.run(source, groupId, id).changes, 0);
  }

  replaceMembers(source: string, groupId: string, ids: string[]): void {
    this.db.prepare(`DELETE FROM push_members WHERE source = ? AND group_id = ?`).run(source, groupId);
    this.addMembers(source, groupId, ids);
  }
}
