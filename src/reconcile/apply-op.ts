import type { Logger } from 'pino';
import { PermanentError } from '../errors.js';
import type { ContactOp, CreateOp, PlanOp } from '../plan/types.js';
import type { OpEffect } from '../store/store.js';
import type { BackendCaller } from './caller.js';
import { effectOf } from './effects.js';

/** the backend call of one op that may be repeated safely, and the snapshot change it makes */
export async function applyOp(caller: BackendCaller, op: Exclude<PlanOp, CreateOp | ContactOp>, log: Logger): Promise<OpEffect> {
  const b = caller.backend;
  const attempt = <T>(fn: () => Promise<T>) => caller.attempt(fn);
  switch (op.op) {
    case 'rebind': {
      const conv = await attempt(() => b.get(op.conversationId));
      if (!conv) {
        log.warn({ key: op.key, conversation: op.conversationId }, 'the conversation to bind again is gone; a new one is made at the next run');
        return { kind: 'deleted', key: op.fromKey ?? op.key };
      }
      return { kind: 'rebound', key: op.key, fromKey: op.fromKey, conversationId: op.conversationId, members: conv.members };
    }
    case 'add':
      await attempt(() => b.addMembers(op.conversationId, op.members));
      // already-present members are now members too: recording them stops endless re-adds
      return effectOf(op);
    case 'remove':
      await attempt(() => b.removeMembers(op.conversationId, op.members));
      return effectOf(op);
    case 'rename':
      await attempt(() => b.rename(op.conversationId, op.to));
      return effectOf(op);
    case 'unbind':
      return { kind: 'unbound', key: op.key };
    case 'delete': {
      const del = b.delete?.bind(b);
      if (!del) throw new PermanentError(`${b.id} cannot delete conversations`, { origin: b.id });
      await attempt(() => del(op.conversationId));
      return { kind: 'deleted', key: op.key };
    }
    case 'archive': {
      const archive = b.archive?.bind(b);
      if (!archive) throw new PermanentError(`${b.id} cannot archive conversations`, { origin: b.id });
      await attempt(() => archive(op.conversationId));
      // archived is read-only: a group that comes back gets a new conversation
      return { kind: 'deleted', key: op.key };
    }
  }
}
