import { PermanentError } from '../../errors.js';
import { Feature, parseAnswer, TeamMember, wireError } from './contract.js';
import type { WireSession } from './session.js';

/** `permissions.self` of a team admin and of an owner ([WS-tm] rolePerms, permToInt) */
const ADMIN_BITS = new Set([5951, 8191]);

/** the remedy every MLS group conversation is reported with */
export const MLS_GROUP_REMEDY =
  "an MLS group conversation (a member's client migrated it): Wire refuses member changes over REST (403 invalid-op). " +
  'Use backend.conversationType: channel and run `convsync migrate-to-channels`';

/**
 * Channel mode needs what Wire checks when a channel is made and managed: the team's `channels`
 * and `mls` features on, and convsync's user a team admin (hidden permission ManageChannels). Each
 * failure says what to enable.
 */
export async function checkChannelMode(session: WireSession, team: string, userId: string, passed: Set<string>, signal?: AbortSignal): Promise<void> {
  // each check passed is not asked again when the whole is retried after a transient failure
  for (const name of ['channels', 'mls'] as const) {
    if (passed.has(name)) continue;
    const res = await session.call('GET', `/teams/${team}/features/${name}`, undefined, signal);
    if (res.status !== 200) throw wireError(res, `GET /teams/{team}/features/${name}`);
    const feature = parseAnswer(Feature, res, `GET /teams/{team}/features/${name}`);
    if (feature.status !== 'enabled') {
      throw new PermanentError(
        name === 'channels'
          ? "the team's channels feature is disabled: a team owner enables Channels in the team settings (if it is locked, the backend's operator unlocks the `channels` feature first), or use backend.conversationType: group"
          : "the team's MLS feature is disabled: channels are MLS conversations; the backend's operator configures MLS and a team owner enables it, or use backend.conversationType: group",
        { origin: 'wire', label: `${name}-disabled` },
      );
    }
    passed.add(name);
  }
  const res = await session.call('GET', `/teams/${team}/members/${userId}`, undefined, signal);
  if (res.status !== 200) throw wireError(res, 'GET /teams/{team}/members/{user}');
  const member = parseAnswer(TeamMember, res, 'GET /teams/{team}/members/{user}');
  if (!member.permissions || !ADMIN_BITS.has(member.permissions.self)) {
    throw new PermanentError(
      "convsync's Wire user is not a team admin: channel mode manages channels as a team admin (removing someone from a channel over REST takes admin rights). Make it an admin in the team settings, or use backend.conversationType: group",
      { origin: 'wire', label: 'not-team-admin' },
    );
  }
}
