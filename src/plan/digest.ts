import { createHash } from 'node:crypto';
import type { UserIds } from '../members/user-ids.js';
import type { Snapshot } from './types.js';

/**
 * A digest of what the store knows of the owned conversations (ids, names, members and who added
 * them), whatever the order of the conversations. Members are hashed as their numbers (4 bytes
 * each, no string per member), then the id behind each number used.
 */
export function snapshotDigest(snapshot: Snapshot): string {
  const hash = createHash('sha256');
  const conversations = [...snapshot.conversations].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const used = new Map<UserIds, Uint8Array>();
  const heads: string[] = [];
  const all = new Int32Array(conversations.reduce((n, c) => n + c.members.size, 0));
  let at = 0;
  for (const c of conversations) {
    const { users, refs } = c.members;
    const others = c.members.others().map(([m, origin]) => `${m}=${origin}`);
    const leavers = [...(c.leavers ?? [])].sort().map((l) => `left:${l}`);
    heads.push([c.key, c.conversationId, c.ownerId, c.name, ...others, ...leavers, `members:${refs.length}`].join('\0'));
    all.set(refs, at);
    at += refs.length;
    let marks = used.get(users);
    if (marks === undefined) used.set(users, (marks = new Uint8Array(users.size)));
    for (let i = 0; i < refs.length; i++) marks[refs[i]!] = 1;
  }
  // two updates in all: per-conversation updates cost more than the hashing
  hash.update(`${heads.join('\n')}\n`);
  hash.update(all);
  // the id behind each number used, in the order of the numbers (which the refs above fix)
  for (const [users, marks] of used) {
    const names: string[] = [];
    for (let ref = 0; ref < marks.length; ref++) if (marks[ref] === 1) names.push(users.name(ref));
    hash.update(`users:${names.join('\0')}\n`);
  }
  for (const g of [...(snapshot.gone ?? [])].sort()) hash.update(`gone:${g}\n`);
  return `sha256:${hash.digest('hex')}`;
}
