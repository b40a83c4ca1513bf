/**
 * Versioned schema migrations, applied in order at open (PRAGMA user_version holds the version).
 * Migrations only ever add: a newer convsync opens an older database, never the reverse.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: bindings, snapshot, journal, runs, group sizes, identity cache
  `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );

  -- group(s) → conversation, with the owner id that makes the conversation ours
  CREATE TABLE bindings (
    key              TEXT PRIMARY KEY,
    conversation_id  TEXT NOT NULL,
    owner_id         TEXT NOT NULL,
    backend          TEXT NOT NULL,
    name             TEXT NOT NULL,
    groups           TEXT NOT NULL DEFAULT '[]',
    on_group_removed TEXT NOT NULL DEFAULT 'keep' CHECK (on_group_removed IN ('keep', 'delete')),
    state            TEXT NOT NULL DEFAULT 'bound' CHECK (state IN ('bound', 'unbound', 'deleted')),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
  );
  CREATE UNIQUE INDEX bindings_bound_conversation ON bindings (conversation_id) WHERE state = 'bound';

  -- snapshot: the members of each bound conversation and who added them
  CREATE TABLE members (
    conversation_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    origin          TEXT NOT NULL CHECK (origin IN ('convsync', 'external')),
    added_at        TEXT NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
  ) WITHOUT ROWID;

  CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    mode        TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    result      TEXT,
    exit_code   INTEGER,
    summary     TEXT,
    plan        TEXT,
    error       TEXT
  );

  -- every op, written pending before its call and done/failed after, with its reason
  CREATE TABLE journal (
    id              INTEGER PRIMARY KEY,
    run_id          INTEGER NOT NULL REFERENCES runs (id),
    op              TEXT NOT NULL,
    binding_key     TEXT NOT NULL,
    conversation_id TEXT,
    payload         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    error_kind      TEXT,
    error_label     TEXT,
    error_message   TEXT,
    note            TEXT,
    started_at      TEXT NOT NULL,
    finished_at     TEXT
  );
  CREATE INDEX journal_pending ON journal (status) WHERE status = 'pending';
  CREATE INDEX journal_run ON journal (run_id);

  -- last good member count per group, to distrust a group that suddenly reads empty
  CREATE TABLE group_state (
    group_key    TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    member_count INTEGER NOT NULL,
    updated_at   TEXT NOT NULL
  ) WITHOUT ROWID;

  -- identity lookups answered by a backend (source user → backend user id; NULL = not found)
  CREATE TABLE identity_cache (
    lookup          TEXT PRIMARY KEY,
    backend_user_id TEXT,
    resolved_at     TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 2: what SCIM push sources (Entra ID, Okta) sent: users, groups, memberships
  `
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
  `,
  // 3: drift found by refreshes: leavers, conversations deleted by hand, and the log of what changed
  `
  -- managed members who left a conversation on their own: not re-added while still in the group
  CREATE TABLE leavers (
    conversation_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    left_at         TEXT NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
  ) WITHOUT ROWID;

  -- bindings whose conversation was deleted (or convsync removed from it) by hand
  CREATE TABLE gone (
    binding_key     TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    detected_at     TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE drift (
    id              INTEGER PRIMARY KEY,
    run_id          INTEGER NOT NULL REFERENCES runs (id),
    binding_key     TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('added', 'left', 'renamed', 'deleted')),
    user_id         TEXT,
    detail          TEXT,
    detected_at     TEXT NOT NULL
  );
  CREATE INDEX drift_run ON drift (run_id);
  `,
  // 4: size of each source at its last good read, for the shrink guard
  `
  CREATE TABLE source_state (
    source      TEXT PRIMARY KEY,
    groups      INTEGER NOT NULL,
    memberships INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 5: a removed group's conversation may also be archived (rebuild: SQLite cannot alter a CHECK)
  `
  CREATE TABLE bindings_new (
    key              TEXT PRIMARY KEY,
    conversation_id  TEXT NOT NULL,
    owner_id         TEXT NOT NULL,
    backend          TEXT NOT NULL,
    name             TEXT NOT NULL,
    groups           TEXT NOT NULL DEFAULT '[]',
    on_group_removed TEXT NOT NULL DEFAULT 'keep' CHECK (on_group_removed IN ('keep', 'empty', 'archive', 'delete')),
    state            TEXT NOT NULL DEFAULT 'bound' CHECK (state IN ('bound', 'unbound', 'deleted')),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
  );
  INSERT INTO bindings_new SELECT key, conversation_id, owner_id, backend, name, groups, on_group_removed, state, created_at, updated_at FROM bindings;
  DROP TABLE bindings;
  ALTER TABLE bindings_new RENAME TO bindings;
  CREATE UNIQUE INDEX bindings_bound_conversation ON bindings (conversation_id) WHERE state = 'bound';
  `,
  // 6: SAML sources: outstanding login requests, assertions seen (replay), what each login showed
  `
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
  `,
  // 7: members as numbers: each user id once, each conversation's members in one row (a million
  // memberships load in one read of ten thousand rows instead of a million)
  `
  CREATE TABLE user_ids (
    ref     INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE
  );
  INSERT INTO user_ids (user_id) SELECT DISTINCT user_id FROM members ORDER BY user_id;

  -- the members of each bound conversation: their user_ids.ref, ascending, comma-separated
  CREATE TABLE member_sets (
    conversation_id TEXT PRIMARY KEY,
    refs            TEXT NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO member_sets (conversation_id, refs)
    SELECT m.conversation_id, group_concat(u.ref, ',' ORDER BY u.ref) FROM members m JOIN user_ids u USING (user_id) GROUP BY m.conversation_id;

  -- the few members convsync did not add (there before an adoption, or added by hand)
  CREATE TABLE member_origins (
    conversation_id TEXT NOT NULL,
    user_ref        INTEGER NOT NULL REFERENCES user_ids (ref),
    origin          TEXT NOT NULL CHECK (origin IN ('external')),
    PRIMARY KEY (conversation_id, user_ref)
  ) WITHOUT ROWID;
  INSERT INTO member_origins (conversation_id, user_ref, origin)
    SELECT m.conversation_id, u.ref, m.origin FROM members m JOIN user_ids u USING (user_id) WHERE m.origin <> 'convsync';

  DROP TABLE members;
  `,
  // 8: runs scoped to a push or a SAML login, whose destructive ops count together over a window
  `
  ALTER TABLE runs ADD COLUMN scoped INTEGER NOT NULL DEFAULT 0 CHECK (scoped IN (0, 1));
  CREATE INDEX journal_started ON journal (started_at);

  -- users the backend refused (not connected, access denied, …): not offered again for a while
  CREATE TABLE refused_users (
    user_id    TEXT PRIMARY KEY,
    label      TEXT,
    message    TEXT NOT NULL,
    refused_at TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
  // 9: conversations the backend no longer lets convsync manage (a Wire group migrated to MLS), and why
  `
  ALTER TABLE bindings ADD COLUMN unmanageable TEXT;

  -- ops a run scoped to a push or a login held back: held in every later run until approved
  CREATE TABLE held_ops (
    op      TEXT NOT NULL,
    key     TEXT NOT NULL,
    run_id  INTEGER NOT NULL,
    held_at TEXT NOT NULL,
    PRIMARY KEY (op, key)
  ) WITHOUT ROWID;
  `,
];
