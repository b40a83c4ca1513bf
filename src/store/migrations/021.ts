/**
 * A conversation's held removals are kept per run that held them: approving one run releases what
 * it held, and what a later run held there waits for that run's approval. An approved run says by
 * which run, however long the approve run itself is kept. Expired SAML requests and assertions are
 * found by their expiry, not by reading every row at each login.
 */
export default `
  CREATE TABLE held_ops_by_run (
    op      TEXT NOT NULL,
    key     TEXT NOT NULL,
    run_id  INTEGER NOT NULL,
    held_at TEXT NOT NULL,
    PRIMARY KEY (op, key, run_id)
  ) WITHOUT ROWID;
  INSERT INTO held_ops_by_run SELECT op, key, run_id, held_at FROM held_ops;
  DROP TABLE held_ops;
  ALTER TABLE held_ops_by_run RENAME TO held_ops;

  ALTER TABLE runs ADD COLUMN approved_by INTEGER;
  UPDATE runs SET approved_by = (SELECT min(a.id) FROM runs a WHERE a.mode = 'approve' AND a.id > runs.id AND json_extract(a.summary, '$.approved') = runs.id);

  CREATE INDEX saml_requests_expiry ON saml_requests (expires_at);
  CREATE INDEX saml_assertions_expiry ON saml_assertions (expires_at);
  `;
