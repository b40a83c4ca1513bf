/** SCIM push: every look-up Entra ID and Okta send (externalId, displayName, a user's email) by index */
export default `
  CREATE INDEX push_users_external_id ON push_users (source, external_id);
  CREATE INDEX push_groups_display_name ON push_groups (source, display_name);
  CREATE INDEX push_groups_external_id ON push_groups (source, external_id);

  -- the email values of each pushed user (Entra can match users by emails[type eq "work"].value)
  CREATE TABLE push_user_emails (
    source  TEXT NOT NULL,
    value   TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (source, value, user_id)
  ) WITHOUT ROWID;
  CREATE INDEX push_user_emails_user ON push_user_emails (source, user_id);
  INSERT OR IGNORE INTO push_user_emails (source, value, user_id)
    SELECT source, value, user_id FROM (
      SELECT u.source AS source, u.id AS user_id,
        CASE WHEN e.type = 'object' THEN CASE WHEN json_type(e.value, '$.value') = 'text' THEN json_extract(e.value, '$.value') END END AS value
      FROM push_users u, json_each(u.resource, '$.emails') e
      WHERE json_type(u.resource, '$.emails') = 'array'
    ) WHERE value IS NOT NULL;

  -- each pushed resource's SCIM answer as last rendered, so a page of a listing is read, not rebuilt;
  -- a write of the resource deletes it (a table of its own: filling it is no change to the source)
  CREATE TABLE push_rendered (
    source TEXT NOT NULL,
    kind   TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    id     TEXT NOT NULL,
    json   TEXT NOT NULL,
    PRIMARY KEY (source, kind, id)
  );
  `;
