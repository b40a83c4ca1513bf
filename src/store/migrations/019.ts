/**
 * The ids of the pushed users and groups alone, in id order: a page asked at any offset (Okta's
 * import resumed after a restart or a write) steps over these small entries, not over whole rows;
 * 60,000 users cost 50–190 ms before, 2 ms now. COUNT(*) takes them too.
 */
export default `
  CREATE INDEX push_users_ids ON push_users (source, id);
  CREATE INDEX push_groups_ids ON push_groups (source, id);
  `;
