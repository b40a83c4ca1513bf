/** The Wire fake's data: users, one team, conversations, cookies, tokens and the team's features. */

import { LOST_RESPONSE_DEFAULTS, type LostResponseFaults } from '../lost-responses.js';

export type TeamRole = 'owner' | 'admin' | 'member' | 'partner';
export type ConversationRole = 'wire_admin' | 'wire_member';
/** a conversation's protocol; `mixed` is only reachable by migration (`PUT …/protocol`) */
export type ConversationProtocol = 'proteus' | 'mixed' | 'mls';
/** what a user's clients support (`supported_protocols`; Wire's default is proteus only) */
export type BaseProtocol = 'proteus' | 'mls';
export type GroupConvType = 'group_conversation' | 'channel' | 'meeting';
export type AddPermission = 'admins' | 'everyone';
/** `allowed_to_create_channels` of the team's `channels` feature */
export type ChannelPermissions = 'team-members' | 'everyone' | 'admins';

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
  /** 'app' for a team app (no password, no email; created by `POST /teams/{tid}/apps`) */
  type?: 'regular' | 'app';
  /** provisioned by SAML/SCIM: no 2FA challenge, usually no password */
  sso?: boolean;
  /** default ['proteus'] (apps: ['mls']) */
  supportedProtocols?: BaseProtocol[];
  /** an app's category and description */
  app?: { category: string; description: string };
}

export interface FakeConversation {
  id: string;
  name: string | null;
  creator: string;
  team: string | null;
  type: number;
  access: string[];
  accessRole: string[];
  protocol: ConversationProtocol;
  /** default 'group_conversation'; 'channel' only for team channels (which are MLS) */
  groupConvType?: GroupConvType;
  /** channels only: who may add members (Wire's default for channels: everyone) */
  addPermission?: AddPermission | null;
  /** MLS epoch (mls and mixed; default 0); > 0 once members' clients have committed */
  epoch?: number;
  epochTimestamp?: string | null;
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
  /**
   * password checks per user (login, app creation, re-authentication) before 429
   * `too-many-requests`: a bucket of this many, refilled by one every `loginRefillSeconds`.
   * Wire's default is 5 per user and one a minute; the sandbox's default is no limit (Infinity),
   * so that tests that log in often keep working.
   */
  loginBurst: number;
  loginRefillSeconds: number;
}

export const DEFAULT_FAULTS: WireFaults = {
  errorRatio: 0,
  throttleEvery: 0,
  retryAfterSeconds: 1,
  tokenLifetimeSeconds: 900,
  latencyMs: 0,
  renewCookieOnAccess: false,
  throttleStatus: 420,
  loginBurst: Infinity,
  loginRefillSeconds: 60,
  ...LOST_RESPONSE_DEFAULTS,
};

/** the team's features (and the backend's MLS configuration), as the fake serves them */
export interface WireFeatures {
  /** the team feature `channels` is enabled (Wire's chart default: disabled and locked) */
  channels: boolean;
  /** MLS is configured on the backend and the team feature `mls` is enabled (default: neither) */
  mls: boolean;
  /** `allowed_to_create_channels` (Wire's default: team-members) */
  channelsCreators: ChannelPermissions;
  /** the team feature `sndFactorPasswordChallenge` (2FA on password login) */
  sndFactorPasswordChallenge: boolean;
  /** `mlsMigration.finaliseRegardlessAfter` has passed: mixed→mls needs no MLS-capable members */
  mlsMigrationFinalised: boolean;
}

export const DEFAULT_FEATURES: WireFeatures = {
  channels: false,
  mls: false,
  channelsCreators: 'team-members',
  sndFactorPasswordChallenge: false,
  mlsMigrationFinalised: false,
};

const PARTNER = ['CreateConversation', 'GetTeamConversations', 'JoinRegularConversations'];
const MEMBER = [...PARTNER, 'DeleteConversation', 'AddRemoveConvMember', 'ModifyConvName', 'SearchContacts'];
const ADMIN = [...MEMBER, 'AddTeamMember', 'ManageChannels', 'CreateApp', 'ManageApps'];

/** team permissions (and hidden permissions) by role ([WS-tm] rolePerms, roleHiddenPerms), reduced to what the fake checks */
export const TEAM_PERMS: Record<TeamRole, ReadonlySet<string>> = {
  partner: new Set(PARTNER),
  member: new Set(MEMBER),
  admin: new Set(ADMIN),
  owner: new Set(ADMIN),
};

export const PERMISSION_BITS: Record<TeamRole, number> = { partner: 1025, member: 1587, admin: 5951, owner: 8191 };

/** the state every part of the fake works on */
export interface WireWorld {
  readonly domain: string;
  readonly teamId: string;
  readonly maxConvSize: number;
  readonly users: Map<string, FakeUser>;
  readonly conversations: Map<string, FakeConversation>;
  readonly faults: WireFaults;
  readonly features: WireFeatures;
  readonly random: () => number;
  readonly cookies: Map<string, FakeCookie>;
  readonly tokens: Map<string, FakeToken>;
  readonly logins: { persist: boolean; label: string | null }[];
}
