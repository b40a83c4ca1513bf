/** runs scoped to a push or a SAML login, whose destructive ops count together over a window */
export default `
  ALTER TABLE runs ADD COLUMN scoped INTEGER NOT NULL DEFAULT 0 CHECK (scoped IN (0, 1));
  CREATE INDEX journal_started ON journal (started_at);

  -- users the backend refused (not connected, access denied, …): not offered again for a while
  CREATE TABLE refused_users (
    user_id    TEXT PRIMARY KEY,
    label      TEXT,
    message    TEXT NOT NULL,
    refused_at TEXT NOT NULL
  ) WITHOUT ROWID;
  `;
