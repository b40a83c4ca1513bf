import Database from 'better-sqlite3';

/**
 * A second connection to a store's file that writes binding rows as SQL takes them, around the
 * store's writers: states, group lists and keys no writer of the store would make
 */
export function rawBindings(path: string, t = '2026-01-01T00:00:00Z') {
  const db = new Database(path);
  const insert = db.prepare(
    `INSERT INTO bindings (key, conversation_id, owner_id, backend, name, groups, state, created_at, updated_at) VALUES (?, ?, 'convsync', 'wire', ?, ?, ?, ?, ?)`,
  );
  return {
    /** the connection itself, for the other tables such a test fills */
    db,
    insert: (key: string, conversationId: string, name: string, groups: string, state: string) => insert.run(key, conversationId, name, groups, state, t, t),
    close: () => db.close(),
  };
}
