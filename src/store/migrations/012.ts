/** retention — a run's plan may be the one an earlier run stored (identical plans are kept once); the time of the login whose assertion last named a user's groups (an overage login names none) */
export default `
  ALTER TABLE runs ADD COLUMN plan_digest TEXT;
  ALTER TABLE runs ADD COLUMN plan_of INTEGER;
  CREATE INDEX runs_plan_of ON runs (plan_of) WHERE plan_of IS NOT NULL;
  CREATE INDEX runs_plan_digest ON runs (plan_digest, id) WHERE plan_digest IS NOT NULL;
  CREATE INDEX runs_started ON runs (started_at);
  CREATE INDEX drift_detected ON drift (detected_at);
  CREATE INDEX identity_cache_resolved ON identity_cache (resolved_at);
  ALTER TABLE saml_logins ADD COLUMN groups_seen_at TEXT;
  UPDATE saml_logins SET groups_seen_at = logged_in_at;
  `;
