import type { Logger } from 'pino';
import { SCIMMY } from 'scimmy-routers';
import { isScimError } from '../sources/scim-push/errors.js';
import type { ListParams } from '../sources/scim-push/list.js';
import type { ScimSourceProvider } from '../sources/scim-push/provider.js';

type Kind = 'User' | 'Group';
type Ask = (kind: Kind, query: string, id?: string) => unknown;

/** a value no resource has, for what the store holds none of */
const NOBODY = 'convsync-warm-up-00000000-0000-4000-8000-000000000000';
const filter = (text: string) => `filter=${encodeURIComponent(text)}`;
const NO_MEMBERS = 'excludedAttributes=members';

/**
 * Each kind of look-up Entra ID and Okta send (reference/idp-side.md) asked once of a source's
 * provider before the daemon listens. The first of a kind compiles its code and prepares its
 * statements: 10–28 ms that held the event loop while it served. The values are those of the first
 * user and group stored, so that finding one and answering it are taken too, and a name no one has.
 * It writes what any read of them writes (their answers, rendered once); the caller bounds how long
 * such a write waits for another writer. The first failure that is no SCIM answer (a store locked
 * or failing) ends it: the requests that meet the same store report it.
 */
export function warmUpLookups(provider: ScimSourceProvider, parseQuery: (text: string) => ListParams, logger: Logger, source: string): void {
  let failed = false;
  const ask: Ask = (kind, query, id) => {
    if (failed) return undefined;
    try {
      const params = parseQuery(query);
      return (id === undefined ? provider.list(kind, params) : provider.read(kind, id, params)).body;
    } catch (e) {
      // not found is the answer to a look-up of no one
      if (isScimError(e)) return undefined;
      failed = true;
      logger.debug({ source, err: (e as Error).message }, 'a SCIM push look-up failed before the daemon listened; the others are not asked');
      return undefined;
    }
  };
  const user = firstOf(ask('User', 'startIndex=1&count=1'));
  const group = firstOf(ask('Group', `${NO_MEMBERS}&startIndex=1&count=1`));
  const userId = text(user?.id);
  const email = (user?.emails as { value?: unknown }[] | undefined)?.[0]?.value;
  ask('User', filter(`userName eq "${text(user?.userName)}"`));
  ask('User', filter(`userName eq "${NOBODY}"`));
  ask('User', filter(`externalId eq "${text(user?.externalId)}"`));
  ask('User', filter(`id eq "${userId}"`));
  ask('User', filter(`emails[type eq "work"].value eq "${text(email)}"`));
  ask('User', '', userId);
  const groupId = text(group?.id);
  ask('Group', `${NO_MEMBERS}&${filter(`displayName eq "${text(group?.displayName)}"`)}`);
  ask('Group', `${NO_MEMBERS}&${filter(`externalId eq "${text(group?.externalId)}"`)}`);
  ask('Group', `${NO_MEMBERS}&${filter(`id eq "${groupId}" and members eq "${userId}"`)}`);
  ask('Group', `${NO_MEMBERS}&${filter(`id eq "${groupId}" and members[value eq "${userId}"]`)}`);
  ask('Group', NO_MEMBERS, groupId);
}

/** the first resource of a list answer */
function firstOf(body: unknown): Record<string, unknown> | undefined {
  if (typeof body !== 'string') return undefined;
  const list = JSON.parse(body) as { Resources?: Record<string, unknown>[] };
  return list.Resources?.[0];
}

/** a value as it may stand inside a filter's quotes, or NOBODY */
function text(value: unknown): string {
  return typeof value === 'string' && /^[^"\\]+$/.test(value) ? value : NOBODY;
}

/**
 * The service provider's configuration read once as its route reads it, before the daemon listens:
 * the IdPs ask for it when they connect, and its first read held the event loop 15–28 ms
 */
export function warmUpServiceProviderConfig(logger: Logger): void {
  new SCIMMY.Resources.ServiceProviderConfig().read().catch((e: unknown) => {
    logger.debug({ err: (e as Error).message }, 'the SCIM service provider configuration could not be read before the daemon listened');
  });
}
