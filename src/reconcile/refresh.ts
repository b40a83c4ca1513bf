import type { Logger } from 'pino';
import type { BackendConversation } from '../backends/types.js';
import { AuthError, describeError, PermanentError } from '../errors.js';
import type { Snapshot } from '../plan/types.js';
import { runPool } from '../pool.js';
import type { Drift } from '../store/store.js';
import type { BackendCaller } from './caller.js';

/**
 * Drift: every owned conversation re-read from the backend and compared with the snapshot. A
 * conversation that cannot be read now (transient) is skipped; one that is gone for convsync (404,
 * or 403 because it was removed from it) is reported as deleted.
 */
export async function refreshConversations(
  caller: BackendCaller,
  snapshot: Snapshot,
  opts: { ownerId: string; concurrency: number; logger: Logger },
): Promise<{ drift: Drift[]; unreadable: number }> {
  const drift: Drift[] = [];
  let unreadable = 0;
  const owned = snapshot.conversations.filter((c) => c.ownerId === opts.ownerId);
  await runPool(owned, opts.concurrency, async (c) => {
    let conv: BackendConversation | undefined;
    try {
      conv = await caller.attempt(() => caller.backend.get(c.conversationId));
    } catch (e) {
      if (e instanceof AuthError) throw e;
      // the backend's own refusal (Wire's access-denied: convsync is no member any more); a bare 403
      // from a gateway or an ACL in front of it says nothing of the conversation
      // (only where convsync is a member of what it manages: Protocol's API token is not, its 403 is no removal)
      const removed = caller.backend.capabilities.selfIsMember !== false && e instanceof PermanentError && e.status === 403 && e.label !== undefined;
      if (!removed) {
        unreadable++;
        opts.logger.warn({ key: c.key, err: describeError(e) }, 'refresh: conversation unreadable, skipped');
        return;
      }
      drift.push({ key: c.key, conversationId: c.conversationId, added: [], left: [], deleted: `convsync can no longer read it (${describeError(e)})` });
      return;
    }
    if (!conv) {
      drift.push({ key: c.key, conversationId: c.conversationId, added: [], left: [], deleted: 'deleted on the backend' });
      return;
    }
    const now = new Set(conv.members);
    const added = conv.members.filter((m) => !c.members.has(m)).sort();
    const left = c.members.ids.filter((m) => !now.has(m));
    const renamed = conv.name !== c.name ? { renamedTo: conv.name } : {};
    // the protocol of every owned conversation is known from this read
    const managed = (conv.unmanageable ?? null) !== (c.unmanageable ?? null) ? { unmanageable: conv.unmanageable ?? null } : {};
    if (added.length > 0 || left.length > 0 || 'renamedTo' in renamed || 'unmanageable' in managed) {
      drift.push({ key: c.key, conversationId: c.conversationId, added, left, ...renamed, ...managed });
    }
  });
  drift.sort((a, b) => (a.key < b.key ? -1 : 1));
  return { drift, unreadable };
}
