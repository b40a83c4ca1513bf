/** members as numbers: each user id once, each conversation's members in one row (a million memberships load in one read of ten thousand rows instead of a million) */
export default `
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
  `;
