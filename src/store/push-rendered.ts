import type Database from 'better-sqlite3';

/** Each SCIM push resource's answer as last rendered, kept until the resource is written again. */
export class PushRendered {
  constructor(private readonly sql: (text: string) => Database.Statement) {}

  /** a resource's SCIM answer as last rendered (without a group's members), if it was not written since */
  get(source: string, kind: 'User' | 'Group', id: string): string | undefined {
    return this.sql(`SELECT json FROM push_rendered WHERE source = ? AND kind = ? AND id = ?`).pluck().get(source, kind, id) as string | undefined;
  }

  /** the stored answers of several resources in one query (a page of a listing), id → JSON */
  many(source: string, kind: 'User' | 'Group', ids: string[]): Map<string, string> {
    const query = this.sql(`SELECT id, json FROM push_rendered WHERE source = ? AND kind = ? AND id IN (SELECT value FROM json_each(?))`).raw();
    return new Map(query.all(source, kind, JSON.stringify(ids)) as [string, string][]);
  }

  save(source: string, kind: 'User' | 'Group', id: string, json: string): void {
    this.sql(`INSERT OR REPLACE INTO push_rendered (source, kind, id, json) VALUES (?, ?, ?, ?)`).run(source, kind, id, json);
  }

  /**
   * Stored answers carry the meta.location of the path they were rendered under: when the source is
   * served at another path now, they are all forgotten (each is rendered again on its next read).
   * One answer tells, as every answer of a start is rendered under the same path.
   */
  forgetUnlessAt(source: string, path: string): void {
    const one = this.sql(`SELECT kind, json FROM push_rendered WHERE source = ? LIMIT 1`).get(source) as { kind: string; json: string } | undefined;
    if (!one) return;
    const here = `"location":${JSON.stringify(`${path}${one.kind === 'User' ? '/Users/' : '/Groups/'}`).slice(0, -1)}`;
    if (!one.json.includes(here)) this.sql(`DELETE FROM push_rendered WHERE source = ?`).run(source);
  }

  forget(source: string, kind: 'User' | 'Group', id: string): void {
    this.sql(`DELETE FROM push_rendered WHERE source = ? AND kind = ? AND id = ?`).run(source, kind, id);
  }
}
