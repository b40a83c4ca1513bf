/** SAML sources: outstanding login requests, assertions seen (replay), what each login showed */
export default `
  CREATE TABLE saml_requests (
    source     TEXT NOT NULL,
    id         TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (source, id)
  ) WITHOUT ROWID;

  CREATE TABLE saml_assertions (
    source      TEXT NOT NULL,
    id          TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    PRIMARY KEY (source, id)
  ) WITHOUT ROWID;

  CREATE TABLE saml_logins (
    source          TEXT NOT NULL,
    name_id         TEXT NOT NULL,
    name_id_format  TEXT,
    attributes      TEXT NOT NULL,
    groups          TEXT NOT NULL,
    groups_unknown  INTEGER NOT NULL CHECK (groups_unknown IN (0, 1)),
    assertion_id    TEXT NOT NULL,
    issue_instant   TEXT NOT NULL,
    logged_in_at    TEXT NOT NULL,
    PRIMARY KEY (source, name_id)
  ) WITHOUT ROWID;

  CREATE TABLE saml_groups (
    source        TEXT NOT NULL,
    key           TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    PRIMARY KEY (source, key)
  ) WITHOUT ROWID;
  `;
