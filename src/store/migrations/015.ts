/**
 * bytes a source keeps of its last whole or followed read, to find what changed in the next one by
 * comparing bytes (a single JSON file: its users list, and where each user is in it)
 */
export default `
  CREATE TABLE source_read_bytes (
    source   TEXT PRIMARY KEY,
    digest   TEXT NOT NULL,
    bytes    BLOB NOT NULL,
    elements BLOB NOT NULL
  );
  `;
