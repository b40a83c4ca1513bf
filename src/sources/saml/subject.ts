import type { SamlSourceConfig } from '../../config/schema.js';
import type { SamlLogin } from '../../store/saml.js';

const EMAIL = /^[^@\s]+@[^@\s]+$/;
const TRANSIENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';

type LoginFacts = Pick<SamlLogin, 'nameId' | 'nameIdFormat' | 'attributes'>;

/** the first value of an attribute the configuration names, if the login has it */
export function firstValue(login: Pick<SamlLogin, 'attributes'>, name: string | undefined): string | undefined {
  return name !== undefined ? login.attributes[name]?.[0] : undefined;
}

/** the login's e-mail: the configured attribute, else the NameID when it is an address */
export function loginEmail(login: LoginFacts, users: SamlSourceConfig['users']): string | undefined {
  return firstValue(login, users.emailAttribute) ?? (EMAIL.test(login.nameId) ? login.nameId : undefined);
}

/**
 * Who signed in, the same at every login of one person: the configured external id, else a
 * persistent NameID as sent, else an address NameID in lower case (an IdP may send `Alice@…` once
 * and `alice@…` the next time), else behind a transient NameID the e-mail in lower case, else the
 * NameID as sent. A later login of the same subject replaces the earlier one's groups, whatever
 * NameID it came with; a transient NameID without an e-mail or external id cannot be told apart
 * from another person's.
 */
export function loginSubject(login: LoginFacts, users: SamlSourceConfig['users']): string {
  const externalId = firstValue(login, users.externalIdAttribute);
  if (externalId !== undefined) return `externalId:${externalId}`;
  if (login.nameIdFormat === PERSISTENT) return `nameId:${login.nameId}`;
  // the e-mail attribute tells a person only behind a transient NameID: two accounts (a user's and
  // their admin account) may share one mailbox, and are two subjects by their NameIDs
  const email = login.nameIdFormat === TRANSIENT ? loginEmail(login, users) : EMAIL.test(login.nameId) ? login.nameId : undefined;
  return email !== undefined ? `email:${email.toLowerCase()}` : `nameId:${login.nameId}`;
}
