import { PermanentError, UnmanageableError } from '../../errors.js';
import type { Conversation } from './contract.js';
import type { WireIds } from './ids.js';

/** a user outside the team, not connected, not activated, without legal-hold consent or on a domain not federated */
export const REFUSED_USER_LABELS = [
  'access-denied',
  'not-connected',
  'no-team-member',
  'missing-legalhold-consent',
  'federation-not-enabled',
  'federation-denied',
  'unreachable-backends',
  'non-federating-backends',
] as const;

/**
 * What a refused member change means, from the conversation read now. 403 invalid-op: if the
 * conversation is now an MLS group, it is unmanageable for good. 403 access-denied, which Wire gives
 * for a user it will not let in and for a conversation whose access settings lack `invite`
 * (`ensureAccess`): the latter refuses nobody in particular, and is not split to find who.
 */
export async function memberError(e: Error & { label?: string | undefined }, read: () => Promise<Conversation | undefined>, ids: WireIds): Promise<Error> {
  if (e.label !== 'invalid-op' && e.label !== 'access-denied') return e;
  const conv = await read().catch(() => undefined);
  if (conv === undefined) return e;
  if (e.label === 'invalid-op') {
    const unmanageable = ids.conversation(conv).unmanageable;
    return unmanageable ? new UnmanageableError(e.message, unmanageable, { origin: 'wire', status: 403, label: 'invalid-op' }) : e;
  }
  if (conv.access === undefined || conv.access.includes('invite')) return e;
  return new PermanentError(`${e.message} (its access settings lack "invite", changed by hand: nobody can be added until a team admin gives it back)`, {
    origin: 'wire',
    status: 403,
    label: 'access-denied',
    ofConversation: true,
  });
}
