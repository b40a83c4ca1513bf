import { AuthError, PermanentError, TransientError, type SyncError } from '../../errors.js';

/** RFC 4511 result codes by number, for messages an operator can look up */
const RESULT_CODES: Record<number, string> = {
  1: 'operationsError',
  2: 'protocolError',
  3: 'timeLimitExceeded',
  4: 'sizeLimitExceeded',
  7: 'authMethodNotSupported',
  8: 'strongerAuthRequired',
  10: 'referral',
  11: 'adminLimitExceeded',
  12: 'unavailableCriticalExtension',
  13: 'confidentialityRequired',
  32: 'noSuchObject',
  34: 'invalidDNSyntax',
  48: 'inappropriateAuthentication',
  49: 'invalidCredentials',
  50: 'insufficientAccessRights',
  51: 'busy',
  52: 'unavailable',
  53: 'unwillingToPerform',
  80: 'other',
};

/** what each limit means for the operator, beyond its name */
const ADVICE: Record<string, string> = {
  sizeLimitExceeded:
    "the server's size limit for this account is below the directory's size: raise it for the bind DN (OpenLDAP: limits … size.prtotal=unlimited; AD: MaxResultSetSize) or narrow the search",
  timeLimitExceeded: "the server's time limit ended the search: raise it for the bind DN, index the attributes of the filter, or narrow the search",
  adminLimitExceeded: 'an administrative limit of the server ended the search (AD: MaxPageSize, MaxValRange, MaxQueryDuration)',
  referral:
    'the server referred the search to another server, which convsync does not follow: point baseDn at the server holding it (AD: the Global Catalog on port 3268)',
  insufficientAccessRights: 'the bind DN may not read this: grant it read access',
  noSuchObject: 'the base DN does not exist on this server',
  confidentialityRequired: 'the server requires TLS: use ldaps:// or startTls',
  strongerAuthRequired: 'the server requires TLS or a stronger bind: use ldaps:// or startTls',
  unavailableCriticalExtension: 'the server refused the paged-results control',
};

/** the LDAP result code of an ldapts error, if it carries one */
export function resultCode(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function resultName(code: number): string {
  return RESULT_CODES[code] ?? `result code ${code}`;
}

/**
 * An ldapts or socket failure as one of convsync's typed errors: refused credentials are an auth
 * error (the run stops), a lost connection or timeout is transient, a result code is permanent for
 * this read. `what` says which operation failed. The bind password never reaches the message.
 */
export function ldapError(e: unknown, origin: string, what: string): SyncError {
  const code = resultCode(e);
  const message = (e as Error | undefined)?.message ?? String(e);
  if (code === undefined) {
    return new TransientError(`${what}: ${networkMessage(message, e)}`, { origin, label: (e as { code?: string }).code ?? 'network', cause: e });
  }
  const name = resultName(code);
  const detail = message.replace(/\s*Code: 0x[0-9a-f]+$/i, '').trim();
  const advice = ADVICE[name];
  const text = `${what}: ${name}${detail ? ` (${detail})` : ''}${advice ? `; ${advice}` : ''}`;
  if (code === 49 || code === 48) return new AuthError(`${text}; check bindDn and the password`, { origin, label: name, cause: e });
  if (code === 51 || code === 52) return new TransientError(text, { origin, label: name, cause: e });
  return new PermanentError(text, { origin, label: name, cause: e });
}

function networkMessage(message: string, e: unknown): string {
  const code = (e as { code?: unknown }).code;
  if (code === 'ECONNREFUSED') return `connection refused (${message})`;
  if (/timed out|timeout/i.test(message)) return `no answer in time (${message})`;
  if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS/.test(code))
    return `the server's TLS certificate was not accepted (${message}); give its CA in tls.caFile`;
  return message;
}
