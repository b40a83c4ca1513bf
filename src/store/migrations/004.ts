/** size of each source at its last good read, for the shrink guard */
export default `
  CREATE TABLE source_state (
    source      TEXT PRIMARY KEY,
    groups      INTEGER NOT NULL,
    memberships INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
  ) WITHOUT ROWID;
  `;
