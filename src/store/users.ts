import type Database from 'better-sqlite3';
import type { MemberSets } from './member-sets.js';

const now = () => new Date().toISOString();

/**
 * What convsync knows of users on the backend: looked-up ids (cached with a lifetime), users the
 * backend refused, the one form of their ids, and the credentials a backend renews.
 */
export class UserStore {
  constructor(
    private readonly db: Database.Database,
    private readonly members: MemberSets,
  ) {}

  /**
   * Once per form (`form` names it, e.g. the backend and its domain): every user id the store
   * holds — members, leavers, looked-up ids, refused users — rewritten by `canonical`.
   */
  canonicalizeUserIds(form: string, canonical: (id: string) => string): number {
    const key = 'id_form';
    if (this.db.prepare(`SELECT value FROM meta WHERE key = ?`).pluck().get(key) === form) return 0;
    return this.members.writing(() => {
      let changed = this.members.canonicalize(canonical);
      const rewrite = (table: string, column: string, where = '') => {
        const ids = this.db.prepare(`SELECT DISTINCT ${column} FROM ${table} WHERE ${column} IS NOT NULL ${where}`).pluck().all() as string[];
        for (const id of ids) {
          const c = canonical(id);
          if (c === id) continue;
          changed++;
          this.db.prepare(`UPDATE OR REPLACE ${table} SET ${column} = ? WHERE ${column} = ?`).run(c, id);
        }
      };
      rewrite('leavers', 'user_id');
      rewrite('identity_cache', 'backend_user_id');
      rewrite('refused_users', 'user_id');
      // members resolved in the other form: a plan resolves them again
      this.db.prepare(`DELETE FROM group_parts`).run();
      this.db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(key, form);
      return changed;
    });
  }

  credential(name: string): { value: string; origin: string } | undefined {
    const row = this.db.prepare(`SELECT value FROM meta WHERE key = ?`).pluck().get(`credential:${name}`) as string | undefined;
    return row === undefined ? undefined : (JSON.parse(row) as { value: string; origin: string });
  }

  saveCredential(name: string, value: string, origin: string): void {
    this.db
      .prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
      .run(`credential:${name}`, JSON.stringify({ value, origin, savedAt: now() }));
  }

  recordRefused(users: readonly { userId: string; label?: string | undefined; message: string }[]): void {
    const up = this.db.prepare(
      `INSERT INTO refused_users (user_id, label, message, refused_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET label = excluded.label, message = excluded.message, refused_at = excluded.refused_at`,
    );
    // the look-up that gave a refused id is made again at the next run: the user behind it may be
    // there again under a new id (a contact deleted and made again by hand)
    const forget = this.db.prepare(`DELETE FROM identity_cache WHERE backend_user_id = ?`);
    const t = now();
    this.db.transaction(() => {
      for (const u of users) {
        up.run(u.userId, u.label ?? null, u.message, t);
        forget.run(u.userId);
      }
    })();
  }

  /** users refused at or after `since` (ISO time), with why */
  refusedUsers(since: string): Map<string, { label: string | null; message: string; refusedAt: string }> {
    const rows = this.db.prepare(`SELECT user_id, label, message, refused_at FROM refused_users WHERE refused_at >= ? ORDER BY user_id`).all(since) as {
      user_id: string;
      label: string | null;
      message: string;
      refused_at: string;
    }[];
    return new Map(rows.map((r) => [r.user_id, { label: r.label, message: r.message, refusedAt: r.refused_at }]));
  }

  /** cached lookups resolved at or after `since` (ISO time); null means "the backend has no such user" */
  cachedIdentities(lookups: string[], since: string): Map<string, string | null> {
    const get = this.db.prepare(`SELECT backend_user_id FROM identity_cache WHERE lookup = ? AND resolved_at >= ?`);
    const out = new Map<string, string | null>();
    for (const l of lookups) {
      const row = get.get(l, since) as { backend_user_id: string | null } | undefined;
      if (row) out.set(l, row.backend_user_id);
    }
    return out;
  }

  cacheIdentities(results: Map<string, string | null>): void {
    const up = this.db.prepare(
      `INSERT INTO identity_cache (lookup, backend_user_id, resolved_at) VALUES (?, ?, ?)
       ON CONFLICT (lookup) DO UPDATE SET backend_user_id = excluded.backend_user_id, resolved_at = excluded.resolved_at`,
    );
    const t = now();
    this.db.transaction(() => {
      for (const [l, id] of results) up.run(l, id, t);
    })();
  }
}
