/** what SCIM push sources (Entra ID, Okta) sent: users, groups, memberships */
export default `
  CREATE TABLE push_users (
    source      TEXT NOT NULL,
    id          TEXT NOT NULL,
    user_name   TEXT NOT NULL,
    external_id TEXT,
    active      INTEGER NOT NULL DEFAULT 1,
    resource    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (source, id)
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX push_users_user_name ON push_users (source, user_name COLLATE NOCASE);

  CREATE TABLE push_groups (
    source       TEXT NOT NULL,
    id           TEXT NOT NULL,
    display_name TEXT NOT NULL,
    external_id  TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (source, id)
  ) WITHOUT ROWID;

  -- memberships as rows, so a PATCH costs the size of the change, not of the group
  CREATE TABLE push_members (
    source    TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    member_id TEXT NOT NULL,
    PRIMARY KEY (source, group_id, member_id)
  ) WITHOUT ROWID;
  CREATE INDEX push_members_member ON push_members (source, member_id);
  `;
