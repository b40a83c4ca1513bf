/** a user the backend refuses has the look-up that gave their id forgotten (`Users.recordRefused`) */
export default `
  CREATE INDEX identity_cache_user ON identity_cache (backend_user_id);
  `;
