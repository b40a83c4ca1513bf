/**
 * a file source's stored group heads (all but the member lists) from one index in id order: a read
 * of what changed reads ten thousand heads, and through the table each cost a look-up of its row,
 * member list included
 */
export default `
  CREATE INDEX source_read_group_heads ON source_read_groups (source, id, display_name, nested, data);
  `;
