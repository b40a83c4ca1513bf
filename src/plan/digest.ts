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
    hash.update(`${c.key}\0${c.conversationId}\0${c.ownerId}\0${c.name}\0`);
    for (const m of Object.keys(c.members).sort()) hash.update(`${m}=${c.members[m]}\0`);
    for (const l of [...(c.leavers ?? [])].sort()) hash.update(`left:${l}\0`);
    hash.update('\n');
  }
  for (const g of [...(snapshot.gone ?? [])].sort()) hash.update(`gone:${g}\n`);
  return `sha256:${hash.digest('hex')}`;
}
