/** Users, the team and its features in the Wire fake ([WS] brig profiles, galley Teams, Features). */

import { badRequest, isObject, isQualified, noEndpoint, noTeamMember, operationDenied, type Qualified, Reply } from './http.js';
import { DEFAULT_FEATURES, PERMISSION_BITS, TEAM_PERMS, type FakeUser, type WireFeatures, type WireWorld } from './state.js';

const HANDLE = /^[a-z0-9_.-]{2,256}$/;

export class Teams {
  constructor(private readonly w: WireWorld) {}

  /** `UserProfile` */
  profile(u: FakeUser) {
    return {
      qualified_id: { id: u.id, domain: this.w.domain },
      id: u.id,
      name: u.name,
      ...(u.handle ? { handle: u.handle } : {}),
      team: u.team ?? null,
      accent_id: 0,
      legalhold_status: u.type === 'app' ? 'disabled' : 'no_consent',
      supported_protocols: u.supportedProtocols ?? ['proteus'],
      type: u.type ?? 'regular',
      ...(u.app ? { app: u.app } : {}),
    };
  }

  self(caller: FakeUser): Reply {
    return new Reply(200, {
      ...this.profile(caller),
      ...(caller.email ? { email: caller.email } : {}),
      locale: 'en',
      managed_by: caller.sso ? 'scim' : 'wire',
      searchable: caller.searchable,
    });
  }

  /**
   * `GET /teams/{tid}/members` ([WS-gteams] getTeamMembers, 5.24): a page of team members, then
   * without the users who are not searchable — so a page can be short, or empty, while `hasMore`
   * is true. A partner (no SearchContacts) sees only itself.
   */
  teamMembers(caller: FakeUser, tid: string, url: URL): Reply {
    if (caller.team !== tid) return noTeamMember();
    const max = url.searchParams.has('maxResults') ? Number(url.searchParams.get('maxResults')) : 2000;
    if (!Number.isInteger(max) || max < 1 || max > 2000) return badRequest('Error in $: maxResults out of range 1..2000');
    const member = teamMember;
    if (!TEAM_PERMS[caller.role].has('SearchContacts')) return new Reply(200, { members: [member(caller)], hasMore: false, pagingState: null });
    const state = url.searchParams.get('pagingState');
    const offset = state ? Number(Buffer.from(state, 'base64url').toString()) || 0 : 0;
    const all = [...this.w.users.values()].filter((u) => u.team === tid).sort((a, b) => (a.id < b.id ? -1 : 1));
    const page = all.slice(offset, offset + max);
    return new Reply(200, {
      members: page.filter((u) => u.searchable).map(member),
      hasMore: offset + max < all.length,
      pagingState: Buffer.from(String(offset + page.length)).toString('base64url'),
    });
  }

  /** `GET /teams/{tid}/members/{uid}` (get-team-member): one member with its permissions */
  teamMemberOne(caller: FakeUser, tid: string, uid: string): Reply {
    if (caller.team !== tid) return noTeamMember();
    const u = this.w.users.get(uid);
    if (!u || u.team !== tid) return new Reply(404, { code: 404, label: 'no-team-member', message: 'Team member not found' });
    return new Reply(200, teamMember(u));
  }

  listUsers(b: unknown): Reply {
    if (!isObject(b)) return badRequest('Error in $: expected Object');
    const byIds = Array.isArray(b.qualified_ids);
    const byHandles = Array.isArray(b.qualified_handles);
    if (byIds === byHandles) return badRequest('exactly one of qualified_ids or qualified_handles must be provided.');
    if (byHandles) {
      const handles = b.qualified_handles as unknown[];
      if (handles.length < 1 || handles.length > 4) return badRequest('Error in $.qualified_handles: expected 1..4 handles');
      // Handle's schema: 2..256 of [a-z0-9_.-] (wire-server Data.Handle), so one bad handle fails the body
      const bad = handles.find((h) => !isObject(h) || typeof h.handle !== 'string' || !HANDLE.test(h.handle));
      if (bad !== undefined) return badRequest(`Error in $.qualified_handles: Invalid handle: ${JSON.stringify(isObject(bad) ? bad.handle : bad)}`);
      const found = handles.flatMap((h) =>
        isObject(h) && h.domain === this.w.domain ? [...this.w.users.values()].filter((u) => u.handle === h.handle).map((u) => this.profile(u)) : [],
      );
      return new Reply(200, { found });
    }
    const ids = b.qualified_ids as unknown[];
    if (!ids.every(isQualified)) return badRequest('Error in $.qualified_ids: expected qualified ids');
    const found: unknown[] = [];
    const failed: unknown[] = [];
    for (const q of ids as Qualified[]) {
      const u = q.domain === this.w.domain ? this.w.users.get(q.id) : undefined;
      if (u) found.push(this.profile(u));
      else if (q.domain !== this.w.domain) failed.push(q);
    }
    return new Reply(200, { found, ...(failed.length ? { failed } : {}) });
  }

  teamConversations(caller: FakeUser, tid: string): Reply {
    if (caller.team !== tid) return noTeamMember();
    if (!TEAM_PERMS[caller.role].has('GetTeamConversations')) return operationDenied();
    return new Reply(200, {
      conversations: [...this.w.conversations.values()].filter((c) => c.team === tid).map((c) => ({ conversation: c.id, managed: false })),
    });
  }

  // ---- features -------------------------------------------------------------------------------

  /** the team features the fake knows, as `LockableFeature` objects (`ttl` is always "unlimited") */
  private features(f: WireFeatures = this.w.features): Record<string, unknown> {
    const status = (on: boolean) => (on ? 'enabled' : 'disabled');
    return {
      // chart default: disabled and locked; a team that uses channels has it unlocked
      channels: {
        status: status(f.channels),
        lockStatus: f.channels ? 'unlocked' : 'locked',
        config: { allowed_to_create_channels: f.channelsCreators, allowed_to_open_channels: 'team-members' },
        ttl: 'unlimited',
      },
      mls: {
        status: status(f.mls),
        lockStatus: 'unlocked',
        config: {
          protocolToggleUsers: [],
          defaultProtocol: f.mls ? 'mls' : 'proteus',
          allowedCipherSuites: [1],
          defaultCipherSuite: 1,
          supportedProtocols: ['proteus', 'mls'],
          groupInfoDiagnostics: false,
        },
        ttl: 'unlimited',
      },
      mlsMigration: {
        status: status(f.mls),
        lockStatus: 'locked',
        config: f.mlsMigrationFinalised ? { finaliseRegardlessAfter: '2026-01-01T00:00:00Z' } : {},
        ttl: 'unlimited',
      },
      sndFactorPasswordChallenge: { status: status(f.sndFactorPasswordChallenge), lockStatus: 'locked', ttl: 'unlimited' },
    };
  }

  /** `GET /teams/{tid}/features/{name}`: any member of the team */
  feature(caller: FakeUser, tid: string, name: string): Reply {
    const all = this.features();
    if (!Object.hasOwn(all, name)) return noEndpoint();
    if (caller.team !== tid) return noTeamMember();
    return new Reply(200, all[name]);
  }

  /** `GET /feature-configs`: the caller's team's features (the ones the fake knows); server defaults outside a team */
  featureConfigs(caller: FakeUser): Reply {
    return new Reply(200, this.features(caller.team !== undefined ? this.w.features : DEFAULT_FEATURES));
  }
}

/** a TeamMember as galley shows it ([WS-tm] newTeamMemberSchema) */
function teamMember(u: FakeUser) {
  return {
    user: u.id,
    permissions: { self: PERMISSION_BITS[u.role], copy: PERMISSION_BITS[u.role] },
    created_by: null,
    created_at: null,
    legalhold_status: 'disabled',
  };
}
