/** drift found by refreshes: leavers, conversations deleted by hand, and the log of what changed */
export default `
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
  `;
