import type Database from 'better-sqlite3';

/** What one accepted SAML login showed of a user. */
export interface SamlLogin {
  nameId: string;
  /** who signed in, the same across their logins (src/sources/saml/subject.ts); none on logins recorded before it was kept */
  subject?: string;
  nameIdFormat?: string;
  /** the attributes chosen in the config, each as its list of values */
  attributes: Record<string, string[]>;
  /** group keys; when `groupsUnknown`, the last ones known from an earlier login */
  groups: string[];
  /** the assertion named no groups but an overage link (Entra): the user's groups are unknown */
  groupsUnknown: boolean;
  assertionId: string;
  issueInstant: string;
  loggedInAt: string;
  /**
   * when an assertion last named the groups: the login's own time, or, after an overage login,
   * the earlier login's — the memberships an overage carries over are not renewed by it
   */
  groupsSeenAt: string;
}

export type RecordOutcome = { ok: true; previousGroups: string[] } | { ok: false; reason: 'unknown-request' | 'replayed' | 'stale' };

type LoginRow = {
  name_id: string;
  subject: string | null;
  name_id_format: string | null;
  attributes: string;
  groups: string;
  groups_unknown: number;
  assertion_id: string;
  issue_instant: string;
  logged_in_at: string;
  groups_seen_at: string | null;
};

const toLogin = (r: LoginRow): SamlLogin => ({
  nameId: r.name_id,
  ...(r.subject !== null ? { subject: r.subject } : {}),
  ...(r.name_id_format !== null ? { nameIdFormat: r.name_id_format } : {}),
  attributes: JSON.parse(r.attributes) as Record<string, string[]>,
  groups: JSON.parse(r.groups) as string[],
  groupsUnknown: r.groups_unknown === 1,
  assertionId: r.assertion_id,
  issueInstant: r.issue_instant,
  loggedInAt: r.logged_in_at,
  groupsSeenAt: r.groups_seen_at ?? r.logged_in_at,
});

/** thrown inside the transaction so that nothing of a refused login is kept */
class Refused extends Error {
  constructor(readonly reason: 'unknown-request' | 'replayed' | 'stale') {
    super(reason);
  }
}

/**
 * What SAML sources learnt: login requests awaiting their response, assertion ids already used
 * (until they expire), and the last login of each user with its groups.
 */
export class SamlStore {
  constructor(private readonly db: Database.Database) {}

  /** `<path>/login` needs no credentials: expired requests go as new ones come, so the table stays bounded */
  addRequest(source: string, id: string, expiresAt: string, now: string): void {
    this.db.transaction(() => {
      this.db.prepare(`DELETE FROM saml_requests WHERE expires_at <= ?`).run(now);
      this.db.prepare(`INSERT INTO saml_requests (source, id, expires_at) VALUES (?, ?, ?)`).run(source, id, expiresAt);
    })();
  }

  /**
   * Records a login, all or nothing: the request it answers is consumed (it must be outstanding),
   * the assertion id must be new, then the user's row and the groups seen are written.
   */
  recordLogin(
    source: string,
    login: Omit<SamlLogin, 'groupsSeenAt'>,
    opts: { requestId?: string; assertionExpiresAt: string; now: string; skewMs?: number },
  ): RecordOutcome {
    try {
      return this.record(source, login, opts);
    } catch (e) {
      if (e instanceof Refused) return { ok: false, reason: e.reason };
      throw e;
    }
  }

  private record(
    source: string,
    login: Omit<SamlLogin, 'groupsSeenAt'>,
    opts: { requestId?: string; assertionExpiresAt: string; now: string; skewMs?: number },
  ): RecordOutcome {
    return this.db.transaction((): RecordOutcome => {
      this.db.prepare(`DELETE FROM saml_requests WHERE expires_at <= ?`).run(opts.now);
      this.db.prepare(`DELETE FROM saml_assertions WHERE expires_at <= ?`).run(opts.now);
      if (opts.requestId !== undefined) {
        const taken = this.db.prepare(`DELETE FROM saml_requests WHERE source = ? AND id = ?`).run(source, opts.requestId);
        if (taken.changes === 0) throw new Refused('unknown-request');
      }
      const fresh = this.db
        .prepare(`INSERT OR IGNORE INTO saml_assertions (source, id, expires_at) VALUES (?, ?, ?)`)
        .run(source, login.assertionId, opts.assertionExpiresAt);
      if (fresh.changes === 0) throw new Refused('replayed');
      const earlier = this.earlier(source, login);
      // an assertion the IdP issued before the one already recorded (a second tab, a response held
      // back) must not bring back the groups the newer one no longer named. Each IssueInstant is
      // accepted within skewMs of our clock either way, so two of them (IdP nodes whose clocks
      // differ) are told apart only beyond twice that
      if (earlier.some((e) => Date.parse(e.issueInstant) - Date.parse(login.issueInstant) > 2 * (opts.skewMs ?? 0))) throw new Refused('stale');
      const before = earlier[0];
      const previousGroups = [...new Set(earlier.flatMap((e) => e.groups))].sort();
      const groups = login.groupsUnknown ? (before?.groups ?? []) : login.groups;
      const groupsSeenAt = login.groupsUnknown ? (before?.groupsSeenAt ?? login.loggedInAt) : login.loggedInAt;
      // the same person under another NameID (another case, a new address): this login replaces theirs
      if (login.subject !== undefined)
        this.db.prepare(`DELETE FROM saml_logins WHERE source = ? AND subject = ? AND name_id <> ?`).run(source, login.subject, login.nameId);
      this.db
        .prepare(
          `INSERT INTO saml_logins (source, name_id, subject, name_id_format, attributes, groups, groups_unknown, assertion_id, issue_instant, logged_in_at, groups_seen_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (source, name_id) DO UPDATE SET subject = excluded.subject, name_id_format = excluded.name_id_format, attributes = excluded.attributes,
             groups = excluded.groups, groups_unknown = excluded.groups_unknown, assertion_id = excluded.assertion_id,
             issue_instant = excluded.issue_instant, logged_in_at = excluded.logged_in_at, groups_seen_at = excluded.groups_seen_at`,
        )
        .run(
          source,
          login.nameId,
          login.subject ?? null,
          login.nameIdFormat ?? null,
          JSON.stringify(login.attributes),
          JSON.stringify(groups),
          login.groupsUnknown ? 1 : 0,
          login.assertionId,
          login.issueInstant,
          login.loggedInAt,
          groupsSeenAt,
        );
      const seen = this.db.prepare(
        `INSERT INTO saml_groups (source, key, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (source, key) DO UPDATE SET last_seen_at = excluded.last_seen_at`,
      );
      // an overage login saw no group: it renews none
      if (!login.groupsUnknown) for (const g of groups) seen.run(source, g, login.loggedInAt, login.loggedInAt);
      return { ok: true, previousGroups };
    })();
  }

  /** the logins this one replaces or updates (its NameID's, its subject's), the newest first */
  private earlier(source: string, login: Omit<SamlLogin, 'groupsSeenAt'>): SamlLogin[] {
    const rows = this.db
      .prepare(`SELECT * FROM saml_logins WHERE source = ? AND (name_id = ? OR subject = ?) ORDER BY logged_in_at DESC, name_id`)
      .all(source, login.nameId, login.subject ?? null) as LoginRow[];
    return rows.map(toLogin);
  }

  login(source: string, nameId: string): SamlLogin | undefined {
    const r = this.db.prepare(`SELECT * FROM saml_logins WHERE source = ? AND name_id = ?`).get(source, nameId) as LoginRow | undefined;
    return r && toLogin(r);
  }

  logins(source: string): SamlLogin[] {
    return (this.db.prepare(`SELECT * FROM saml_logins WHERE source = ? ORDER BY name_id`).all(source) as LoginRow[]).map(toLogin);
  }

  /** every group a login of this source ever named: SAML cannot say a group is gone */
  groups(source: string): string[] {
    return this.db.prepare(`SELECT key FROM saml_groups WHERE source = ? ORDER BY key`).pluck().all(source) as string[];
  }

  /** how many requests, assertion ids and logins a source holds (tests check that a refused response stored nothing) */
  counts(source: string): { requests: number; assertions: number; logins: number } {
    const n = (table: string) => this.db.prepare(`SELECT count(*) FROM ${table} WHERE source = ?`).pluck().get(source) as number;
    return { requests: n('saml_requests'), assertions: n('saml_assertions'), logins: n('saml_logins') };
  }
}
