import type Database from 'better-sqlite3';
import { Statements } from './statements.js';
import { PushPages } from './push-pages.js';
import { PushRendered } from './push-rendered.js';
import { emailValues, readSelectedGroups, readWholeSource, toGroup, toUser } from './push-reads.js';
import type { GroupRow, SelectedGroups, UserRow, WholeSource } from './push-reads.js';

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

/** a resource's answer as last rendered, if it was not written since */
export interface StoredAnswer {
  id: string;
  json: string | null;
}

/** a member of a group as SCIM shows it: a user, or a group nested in it */
export interface PushMemberRef {
  value: string;
  type: 'User' | 'Group';
}

/**
 * What SCIM push sources sent, kept in the store so it survives restarts and is the desired state
 * of those groups. Membership changes are row inserts and deletes: their cost follows the change.
 * Every look-up an IdP sends (by id, userName, externalId, email, displayName, member) is one
 * indexed query, and so is each page of a listing read in turn (push-pages.ts): their cost does
 * not grow with the directory.
 */
export class PushStore {
  // look-ups run thousands of times per IdP cycle: their statements are prepared once
  private readonly statements: Statements;
  private readonly pages: PushPages;
  /** each resource's SCIM answer as last rendered (push-rendered.ts) */
  readonly rendered: PushRendered;

  constructor(private readonly db: Database.Database) {
    this.statements = new Statements(db);
    this.pages = new PushPages((text) => this.sql(text));
    this.rendered = new PushRendered((text) => this.sql(text));
  }

  private sql(text: string): Database.Statement {
    return this.statements.get(text);
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // ---- users ----

  user(source: string, id: string): PushUser | undefined {
    const r = this.sql(`SELECT * FROM push_users WHERE source = ? AND id = ?`).get(source, id) as UserRow | undefined;
    return r && toUser(r);
  }

  /** userName is unique without regard to case (RFC 7643 §4.1.1: caseExact false) */
  userByName(source: string, userName: string): PushUser | undefined {
    const r = this.sql(`SELECT * FROM push_users WHERE source = ? AND user_name = ? COLLATE NOCASE`).get(source, userName) as UserRow | undefined;
    return r && toUser(r);
  }

  // Look-ups by value name their index and return their few rows in no particular order: without
  // statistics SQLite takes the primary key's `source =` for as selective as the value's index, and
  // an ORDER BY id makes it prefer the primary key; either way it walks every row of the source.

  usersByExternalId(source: string, externalId: string): PushUser[] {
    return (
      this.sql(`SELECT * FROM push_users INDEXED BY push_users_external_id WHERE source = ? AND external_id = ?`).all(source, externalId) as UserRow[]
    ).map(toUser);
  }

  /** users with an email whose value is exactly `value` */
  usersByEmail(source: string, value: string): PushUser[] {
    const rows = this.sql(
      `SELECT u.* FROM push_user_emails e JOIN push_users u ON u.source = e.source AND u.id = e.user_id
       WHERE e.source = ? AND e.value = ?`,
    ).all(source, value) as UserRow[];
    return rows.map(toUser);
  }

  users(source: string): PushUser[] {
    return (this.sql(`SELECT * FROM push_users WHERE source = ? ORDER BY id`).all(source) as UserRow[]).map(toUser);
  }

  userCount(source: string): number {
    return this.pages.count('push_users', source);
  }

  /** one page of the users in id order (stable across pages, as Okta's import requires) */
  userPage(source: string, offset: number, limit: number): PushUser[] {
    return this.pages.page<UserRow>('push_users', source, offset, limit).map(toUser);
  }

  /** one page of a listing as the resources' stored answers, in id order (null: none stored yet) */
  answerPage(source: string, kind: 'User' | 'Group', offset: number, limit: number): StoredAnswer[] {
    const shape = { columns: 't.id, r.json', join: `LEFT JOIN push_rendered r ON r.source = t.source AND r.kind = '${kind}' AND r.id = t.id` };
    return this.pages.page<StoredAnswer>(kind === 'User' ? 'push_users' : 'push_groups', source, offset, limit, shape);
  }

  putUser(source: string, u: Omit<PushUser, 'created' | 'lastModified'>, now: string): PushUser {
    this.transaction(() => {
      const createdAt = this.sql(
        `INSERT INTO push_users (source, id, user_name, external_id, active, resource, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (source, id) DO UPDATE SET user_name = excluded.user_name, external_id = excluded.external_id,
           active = excluded.active, resource = excluded.resource, updated_at = excluded.updated_at RETURNING created_at`,
      )
        .pluck()
        .get(source, u.id, u.userName, u.externalId ?? null, u.active ? 1 : 0, JSON.stringify(u.resource), now, now);
      this.rendered.forget(source, 'User', u.id);
      this.pages.upserted('push_users', source, createdAt, now);
      this.sql(`DELETE FROM push_user_emails WHERE source = ? AND user_id = ?`).run(source, u.id);
      const add = this.sql(`INSERT INTO push_user_emails (source, value, user_id) VALUES (?, ?, ?)`);
      for (const value of emailValues(u.resource)) add.run(source, value, u.id);
    });
    return this.user(source, u.id)!;
  }

  deleteUser(source: string, id: string): boolean {
    return this.transaction(() => {
      this.sql(`DELETE FROM push_members WHERE source = ? AND member_id = ?`).run(source, id);
      this.sql(`DELETE FROM push_user_emails WHERE source = ? AND user_id = ?`).run(source, id);
      this.rendered.forget(source, 'User', id);
      this.pages.written('push_users', source);
      return this.sql(`DELETE FROM push_users WHERE source = ? AND id = ?`).run(source, id).changes > 0;
    });
  }

  // ---- groups ----

  group(source: string, id: string): PushGroup | undefined {
    const r = this.sql(`SELECT * FROM push_groups WHERE source = ? AND id = ?`).get(source, id) as GroupRow | undefined;
    return r && toGroup(r);
  }

  /** groups named exactly `displayName` (the uniqueness rule of push groups is exact too) */
  groupsByName(source: string, displayName: string): PushGroup[] {
    return (
      this.sql(`SELECT * FROM push_groups INDEXED BY push_groups_display_name WHERE source = ? AND display_name = ?`).all(source, displayName) as GroupRow[]
    ).map(toGroup);
  }

  groupsByExternalId(source: string, externalId: string): PushGroup[] {
    return (
      this.sql(`SELECT * FROM push_groups INDEXED BY push_groups_external_id WHERE source = ? AND external_id = ?`).all(source, externalId) as GroupRow[]
    ).map(toGroup);
  }

  /** the groups `memberId` (a user or a group) is a direct member of */
  groupsWithMember(source: string, memberId: string): PushGroup[] {
    const rows = this.sql(
      `SELECT g.* FROM push_members m JOIN push_groups g ON g.source = m.source AND g.id = m.group_id
       WHERE m.source = ? AND m.member_id = ?`,
    ).all(source, memberId) as GroupRow[];
    return rows.map(toGroup);
  }

  groups(source: string): PushGroup[] {
    return (this.sql(`SELECT * FROM push_groups WHERE source = ? ORDER BY id`).all(source) as GroupRow[]).map(toGroup);
  }

  groupCount(source: string): number {
    return this.pages.count('push_groups', source);
  }

  groupPage(source: string, offset: number, limit: number): PushGroup[] {
    return this.pages.page<GroupRow>('push_groups', source, offset, limit).map(toGroup);
  }

  putGroup(source: string, g: { id: string; displayName: string; externalId?: string | undefined }, now: string): PushGroup {
    this.transaction(() => {
      const createdAt = this.sql(
        `INSERT INTO push_groups (source, id, display_name, external_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (source, id) DO UPDATE SET display_name = excluded.display_name, external_id = excluded.external_id,
           updated_at = excluded.updated_at RETURNING created_at`,
      )
        .pluck()
        .get(source, g.id, g.displayName, g.externalId ?? null, now, now);
      this.rendered.forget(source, 'Group', g.id);
      this.pages.upserted('push_groups', source, createdAt, now);
    });
    return this.group(source, g.id)!;
  }

  touchGroup(source: string, id: string, now: string): void {
    this.sql(`UPDATE push_groups SET updated_at = ? WHERE source = ? AND id = ?`).run(now, source, id);
    this.rendered.forget(source, 'Group', id);
  }

  deleteGroup(source: string, id: string): boolean {
    return this.transaction(() => {
      this.sql(`DELETE FROM push_members WHERE source = ? AND (group_id = ? OR member_id = ?)`).run(source, id, id);
      this.rendered.forget(source, 'Group', id);
      this.pages.written('push_groups', source);
      return this.sql(`DELETE FROM push_groups WHERE source = ? AND id = ?`).run(source, id).changes > 0;
    });
  }

  // ---- memberships ----

  members(source: string, groupId: string): string[] {
    return this.sql(`SELECT member_id FROM push_members WHERE source = ? AND group_id = ? ORDER BY member_id`).pluck().all(source, groupId) as string[];
  }

  /** a group's members with their type, in one query */
  memberRefs(source: string, groupId: string): PushMemberRef[] {
    const rows = this.sql(
      `SELECT m.member_id, g.id IS NOT NULL FROM push_members m LEFT JOIN push_groups g ON g.source = m.source AND g.id = m.member_id
       WHERE m.source = ? AND m.group_id = ? ORDER BY m.member_id`,
    )
      .raw()
      .all(source, groupId) as [string, number][];
    return rows.map(([value, isGroup]) => ({ value, type: isGroup ? 'Group' : 'User' }));
  }

  /** the whole source, read in pages with `pause` awaited between them (push-reads.ts) */
  readWhole(source: string, pause: () => Promise<unknown>): Promise<WholeSource> {
    return readWholeSource(this.db, source, pause);
  }

  /** the groups `select` picks (by id) from every group's id and name, what they nest, and the users they reach (push-reads.ts) */
  readSelected(
    source: string,
    select: (heads: readonly { id: string; displayName: string }[]) => ReadonlySet<string>,
    pause: () => Promise<unknown>,
  ): Promise<SelectedGroups> {
    return readSelectedGroups(this.db, source, select, pause);
  }

  hasMember(source: string, groupId: string, memberId: string): boolean {
    return this.sql(`SELECT 1 FROM push_members WHERE source = ? AND group_id = ? AND member_id = ?`).get(source, groupId, memberId) !== undefined;
  }

  /** the ids that are neither a user nor a group of the source, in the order given */
  unknownIds(source: string, ids: string[]): string[] {
    const known = this.sql(
      `SELECT EXISTS (SELECT 1 FROM push_users WHERE source = ? AND id = ?) OR EXISTS (SELECT 1 FROM push_groups WHERE source = ? AND id = ?)`,
    ).pluck();
    return ids.filter((id) => known.get(source, id, source, id) === 0);
  }

  groupsOf(source: string, memberId: string): string[] {
    return this.sql(`SELECT group_id FROM push_members WHERE source = ? AND member_id = ?`).pluck().all(source, memberId) as string[];
  }

  addMembers(source: string, groupId: string, ids: string[]): number {
    const ins = this.sql(`INSERT INTO push_members (source, group_id, member_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`);
    return ids.reduce((n, id) => n + ins.run(source, groupId, id).changes, 0);
  }

  removeMembers(source: string, groupId: string, ids: string[]): number {
    const del = this.sql(`DELETE FROM push_members WHERE source = ? AND group_id = ? AND member_id = ?`);
    return ids.reduce((n, id) => n + del.run(source, groupId, id).changes, 0);
  }

  replaceMembers(source: string, groupId: string, ids: string[]): void {
    this.sql(`DELETE FROM push_members WHERE source = ? AND group_id = ?`).run(source, groupId);
    this.addMembers(source, groupId, ids);
  }
}
