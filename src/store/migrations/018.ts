/**
 * A count that moves whenever a number of `user_ids` loses its id or gets another (a merge, a
 * rename; a freed highest number may then be given again). Numbers only added leave it alone, so a
 * process keeps its numbering while other connections commit pushes, leases and new ids.
 */
export default `
  CREATE TABLE user_ids_epoch (n INTEGER NOT NULL);
  INSERT INTO user_ids_epoch (n) VALUES (0);
  CREATE TRIGGER user_ids_renamed AFTER UPDATE ON user_ids BEGIN UPDATE user_ids_epoch SET n = n + 1; END;
  CREATE TRIGGER user_ids_dropped AFTER DELETE ON user_ids BEGIN UPDATE user_ids_epoch SET n = n + 1; END;
  `;
