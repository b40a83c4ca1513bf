/** The Wire fake's data: users, one team, conversations, cookies and tokens. */

import { LOST_RESPONSE_DEFAULTS, type LostResponseFaults } from '../lost-responses.js';

export type TeamRole = 'owner' | 'admin' | 'member' | 'partner';
export type ConversationRole = 'wire_admin' | 'wire_member';

export interface FakeUser {
  id: string;
  name: string;
  email?: string;
  handle?: string;
  password?: string;
  /** team id, or undefined for a user outside any team */
  team?: string;
  role: TeamRole;
  searchable: boolean;
}

export interface FakeConversation {
  id: string;
  name: string | null;
  creator: string;
  team: string | null;
  type: number;
  access: string[];
  accessRole: string[];
  protocol: 'proteus';
  members: Map<string, ConversationRole>;
}

export interface FakeCookie {
  value: string;
  user: string;
  label: string | null;
  persistent: boolean;
  expiresAt: number;
  revoked: boolean;
}

export interface FakeToken {
  value: string;
  user: string;
  expiresAt: number;
}

export interface WireFaults extends LostResponseFaults {
  /** share of requests answered 503 before they are processed (seeded, reproducible) */
  errorRatio: number;
  /** every Nth request (of all but /api-version) is answered 420 with Retry-After; 0 = never */
  throttleEvery: number;
  /** Retry-After sent with the 420 */
  retryAfterSeconds: number;
  /** lifetime of access tokens (`expires_in`) */
  tokenLifetimeSeconds: number;
  /** added to every answer */
  latencyMs: number;
  /** `/access` renews the cookie (sends Set-Cookie) — Wire does this after 14 days */
  renewCookieOnAccess: boolean;
  /** answer 420 with this status instead (Wire's edge may move to 429) */
  throttleStatus: 420 | 429;
}

export const DEFAULT_FAULTS: WireFaults = {
  errorRatio: 0,
  throttleEvery: 0,
  retryAfterSeconds: 1,
  tokenLifetimeSeconds: 900,
  latencyMs: 0,
  renewCookieOnAccess: false,
  throttleStatus: 420,
  ...LOST_RESPONSE_DEFAULTS,
};

/** team permissions by role ([WS-tm] rolePerms), reduced to what the fake checks */
export const TEAM_PERMS: Record<TeamRole, ReadonlySet<string>> = {
  partner: new Set(['CreateConversation', 'GetTeamConversations']),
  member: new Set(['CreateConversation', 'GetTeamConversations', 'DeleteConversation', 'AddRemoveConvMember', 'ModifyConvName', 'SearchContacts']),
  admin: new Set(['CreateConversation', 'GetTeamConversations', 'DeleteConversation', 'AddRemoveConvMember', 'ModifyConvName', 'SearchContacts', 'AddTeamMember']),
  owner: new Set(['CreateConversation', 'GetTeamConversations', 'DeleteConversation', 'AddRemoveConvMember', 'ModifyConvName', 'SearchContacts', 'AddTeamMember']),
};

export const PERMISSION_BITS: Record<TeamRole, number> = { partner: 1025, member: 1587, admin: 5951, owner: 8191 };
