/** What every part of the Wire fake answers with, and the checks it makes on request bodies. */

import type { ConversationRole } from './state.js';

export class Reply {
  constructor(
    readonly status: number,
    readonly body?: unknown,
    readonly headers: Record<string, string | string[]> = {},
  ) {}
}

/** Wire's error body */
export function fail(status: number, label: string, message: string, headers: Record<string, string> = {}): Reply {
  return new Reply(status, { code: status, label, message }, headers);
}

export const noConversation = (): Reply => fail(404, 'no-conversation', 'Conversation not found');
export const noEndpoint = (): Reply => fail(404, 'no-endpoint', 'The requested endpoint does not exist');
export const invalidOp = (): Reply => fail(403, 'invalid-op', 'Invalid operation');
export const operationDenied = (): Reply => fail(403, 'operation-denied', 'Insufficient permissions');
export const noTeamMember = (): Reply => fail(403, 'no-team-member', 'Requesting user is not a team member');
export const accessDenied = (): Reply => fail(403, 'access-denied', 'Conversation access denied');
export const actionDenied = (action: string): Reply => fail(403, 'action-denied', `Insufficient authorization (missing ${action})`);
export const badRequest = (message: string): Reply => fail(400, 'bad-request', message);

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const ROLES: readonly ConversationRole[] = ['wire_admin', 'wire_member'];

export interface Qualified {
  id: string;
  domain: string;
}

export function parseBody(raw: string): unknown {
  if (raw === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return Symbol('invalid');
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isQualified(v: unknown): v is Qualified {
  return isObject(v) && typeof v.id === 'string' && UUID.test(v.id) && typeof v.domain === 'string' && v.domain.length > 0;
}

export function dedupe(list: Qualified[]): Qualified[] {
  const seen = new Set<string>();
  return list.filter((q) => {
    const k = `${q.id}@${q.domain}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** `InviteQualified` ({qualified_users: NonEmpty, conversation_role?}) as the add and replace routes parse it */
export function parseInvite(b: unknown): { users: Qualified[]; role: ConversationRole } | Reply {
  if (!isObject(b) || !Array.isArray(b.qualified_users) || !b.qualified_users.every(isQualified)) {
    return badRequest('Error in $.qualified_users: expected an array of qualified ids');
  }
  if (b.qualified_users.length === 0) return badRequest('Error in $.qualified_users: parsing NonEmpty failed, unexpected empty list');
  const role = b.conversation_role ?? 'wire_admin';
  if (!ROLES.includes(role as ConversationRole)) return badRequest('Error in $.conversation_role: unknown role');
  return { users: dedupe(b.qualified_users as Qualified[]), role: role as ConversationRole };
}
