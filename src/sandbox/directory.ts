import { randomUuid, seededRandom } from './random.js';

export interface SampleUser {
  /** SCIM id */
  id: string;
  userName: string;
  displayName: string;
  email: string;
  /** the user's chat-backend id (a Wire user UUID in the sandbox) */
  externalId: string;
  active: boolean;
}

export interface SampleGroup {
  id: string;
  displayName: string;
  /** SCIM ids of users, or of groups (nested) */
  members: { value: string; type: 'User' | 'Group' }[];
}

export interface SampleDirectory {
  users: SampleUser[];
  groups: SampleGroup[];
}

const TEAMS = ['eng', 'ops', 'sales', 'design', 'support', 'finance', 'legal', 'data', 'security', 'people'];
const FIRST = [
  'alice',
  'bob',
  'carol',
  'dave',
  'erin',
  'frank',
  'grace',
  'heidi',
  'ivan',
  'judy',
  'mallory',
  'niaj',
  'olivia',
  'peggy',
  'rupert',
  'sybil',
  'trent',
  'victor',
  'walter',
  'yves',
];

/**
 * A reproducible directory: `groups` groups named `team-<name>`, each with `membersPerGroup` of
 * `users` users (members overlap when there are fewer users than seats).
 */
export function sampleDirectory(opts: { groups: number; membersPerGroup: number; users?: number; seed?: number }): SampleDirectory {
  const random = seededRandom(opts.seed ?? 1);
  const userCount = opts.users ?? opts.groups * opts.membersPerGroup;
  const users: SampleUser[] = Array.from({ length: userCount }, (_, i) => {
    const first = FIRST[i % FIRST.length]!;
    const userName = userCount > FIRST.length ? `${first}.${i + 1}` : first;
    return {
      id: `u-${String(i + 1).padStart(6, '0')}`,
      userName,
      displayName: `${first[0]!.toUpperCase()}${first.slice(1)} ${i + 1}`,
      email: `${userName}@example.com`,
      externalId: randomUuid(random),
      active: true,
    };
  });
  const groups: SampleGroup[] = Array.from({ length: opts.groups }, (_, g) => {
    const base = TEAMS[g % TEAMS.length]!;
    const displayName = opts.groups > TEAMS.length ? `team-${base}-${g + 1}` : `team-${base}`;
    const members = Array.from({ length: Math.min(opts.membersPerGroup, userCount) }, (_, k) => ({
      value: users[(g * opts.membersPerGroup + k) % userCount]!.id,
      type: 'User' as const,
    }));
    return { id: `g-${String(g + 1).padStart(5, '0')}`, displayName, members };
  });
  return { users, groups };
}
