/**
 * A SAML login names who signed in by a subject that stays the same across their logins (an
 * external id, a persistent NameID, an e-mail in lower case); a later login of the same subject
 * replaces the earlier ones. Logins recorded before have none: each stays a person of its own until
 * its NameID signs in again.
 */
export default `
  ALTER TABLE saml_logins ADD COLUMN subject TEXT;
  CREATE INDEX saml_logins_subject ON saml_logins (source, subject);
  `;
