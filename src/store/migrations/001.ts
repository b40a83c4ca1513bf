/** bindings, snapshot, journal, runs, group sizes, identity cache */
export default `
  CREATE TABLE IF NOT EXISTS meta (
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
  `;
