import type { BackendConversation } from '../backends/types.js';
import { handleKey } from '../identity/lookup.js';
import type { ContactOp, CreateOp, PlanOp } from '../plan/types.js';
import type { OpEffect } from '../store/store.js';

/** the snapshot change of a rename, add or remove that the backend applied */
export function effectOf(op: PlanOp): OpEffect {
  if (op.op === 'add') {
    if (!op.external?.length) return { kind: 'added', conversationId: op.conversationId, members: op.members };
    const byHand = new Set(op.external);
    return {
      kind: 'added',
      conversationId: op.conversationId,
      members: op.members.filter((m) => !byHand.has(m)),
      external: op.members.filter((m) => byHand.has(m)),
    };
  }
  if (op.op === 'remove') return { kind: 'removed', conversationId: op.conversationId, members: op.members };
  if (op.op === 'rename') return { kind: 'renamed', conversationId: op.conversationId, name: op.to };
  return { kind: 'none' };
}

/** a conversation made (or found after a lost answer) for a create: who was there besides the wanted members is external */
export function createdEffect(op: CreateOp, conv: BackendConversation, ownerId: string, backend: string): OpEffect {
  const byHand = new Set(op.external);
  const wanted = new Set(op.members.filter((m) => !byHand.has(m)));
  return {
    kind: 'created',
    key: op.key,
    conversationId: conv.id,
    name: conv.name || op.name,
    ownerId,
    backend,
    members: conv.members.filter((m) => wanted.has(m)),
    external: conv.members.filter((m) => !wanted.has(m)),
    groups: op.groups,
    onGroupRemoved: op.onGroupRemoved,
  };
}

/** a user made (or found after a lost answer), remembered like a handle lookup */
export function identifiedEffect(op: ContactOp, userId: string): OpEffect {
  return { kind: 'identified', lookup: `handle:${handleKey(op.handle)}`, userId };
}

export function describeOp(op: PlanOp): string {
  switch (op.op) {
    case 'contact':
      return `make contact "${op.handle}"`;
    case 'create':
      return `create "${op.name}" with ${op.members.length} member(s)`;
    case 'rebind':
      return `bind ${op.conversationId} ("${op.name}") to ${op.key} again`;
    case 'add':
      return `add ${op.members.length} member(s) to "${op.name}"`;
    case 'remove':
      return `remove ${op.members.length} member(s) from "${op.name}"`;
    case 'rename':
      return `rename ${op.conversationId} "${op.from}" → "${op.to}"`;
    case 'unbind':
      return `unbind ${op.conversationId} (${op.key}); the conversation is kept`;
    case 'archive':
      return `archive ${op.conversationId} (${op.key})`;
    case 'delete':
      return `delete ${op.conversationId} (${op.key})`;
  }
}
