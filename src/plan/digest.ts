import { createHash } from 'node:crypto';
import type { Snapshot } from './types.js';

/**
 * A digest of what the store knows of the owned conversations (ids, names, members and who added
 * them). Two snapshots with the same content have the same digest, whatever their order.
 */
export function snapshotDigest(snapshot: Snapshot): string {
  const hash = createHash('sha256');
  const conversations = [...snapshot.conversations].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const c of conversations) {
    // one update per conversation, members joined natively: a string per member costs more than the hashing
    const others = c.members.others().map(([m, origin]) => `${m}=${origin}`);
    const parts = [c.key, c.conversationId, c.ownerId, c.name, c.members.ids.join('\0'), ...others];
    for (const l of [...(c.leavers ?? [])].sort()) parts.push(`left:${l}`);
    hash.update(`${parts.join('\0')}\n`);
  }
  for (const g of [...(snapshot.gone ?? [])].sort()) hash.update(`gone:${g}\n`);
  return `sha256:${hash.digest('hex')}`;
}
