/**
 * The key of the store's prints (sources/print.ts): eight random bytes, made once. Prints made
 * before were not keyed, so the two caches of them are forgotten: the prints of the last complete
 * plan (the next run that finds a source changed plans every group) and the parts.
 */
export default `
  INSERT OR IGNORE INTO meta (key, value) VALUES ('print_key', lower(hex(randomblob(8))));
  DELETE FROM group_prints;
  DELETE FROM group_parts;
  `;
