/** a removed group's conversation may also be archived (rebuild: SQLite cannot alter a CHECK) */
export default `
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
  `;
