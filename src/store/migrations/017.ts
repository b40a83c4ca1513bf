/**
 * Each group's members as numbers of `user_ids`, resolved at the last plan that took the group,
 * under the members' print they were resolved from: a group whose members only came and went since
 * is then mapped from these and the few that moved, not from every member.
 */
export default `
  CREATE TABLE group_parts (
    group_key  TEXT PRIMARY KEY,
    print      TEXT NOT NULL,
    identity   TEXT NOT NULL,
    unresolved INTEGER NOT NULL,
    refs       TEXT NOT NULL
  ) WITHOUT ROWID;
  `;
