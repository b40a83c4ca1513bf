/** conversations the backend no longer lets convsync manage (a Wire group migrated to MLS), and why */
export default `
  ALTER TABLE bindings ADD COLUMN unmanageable TEXT;

  -- ops a run scoped to a push or a login held back: held in every later run until approved
  CREATE TABLE held_ops (
    op      TEXT NOT NULL,
    key     TEXT NOT NULL,
    run_id  INTEGER NOT NULL,
    held_at TEXT NOT NULL,
    PRIMARY KEY (op, key)
  ) WITHOUT ROWID;
  `;
