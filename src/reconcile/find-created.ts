import type { BackendConversation } from '../backends/types.js';
import { PermanentError } from '../errors.js';
import type { ContactOp, CreateOp } from '../plan/types.js';
import type { Store } from '../store/store.js';
import type { BackendCaller } from './caller.js';

/** clocks of the daemon and the backend may differ this much */
const CLOCK_SKEW_MS = 60_000;

/**
 * What a create whose answer was lost (or whose run was killed) may have made, looked for before
 * any new attempt. Narrow on purpose: by its journaled id when the backend derives one (Mixin);
 * otherwise a conversation with the op's name that no binding ever referred to, made by the
 * daemon's own user where the backend says who made it, and not before the op was journaled
 * where it says when. A conversation a person made is never adopted.
 */
export async function findCreated(
  caller: BackendCaller,
  store: Store,
  op: CreateOp,
  since: string,
  listed?: { conversations?: BackendConversation[] },
): Promise<BackendConversation | undefined> {
  const b = caller.backend;
  const prepared = op.prepared?.conversationId;
  if (prepared) return caller.attempt(() => b.get(prepared));
  const list = b.list?.bind(b);
  if (!list) throw new PermanentError(`${b.id} cannot list its conversations, so a create whose answer was lost cannot be checked`, { origin: b.id });
  const conversations = listed?.conversations ?? (await caller.attempt(() => list()));
  if (listed) listed.conversations = conversations;
  const self = b.capabilities.reportsCreator ? (await caller.whoami()).userId : undefined;
  const after = Date.parse(since) - CLOCK_SKEW_MS;
  return conversations
    .filter(
      (c) =>
        c.name === op.name &&
        (self === undefined || (c.creator !== undefined && b.parseUserId(c.creator) === self)) &&
        (c.createdAt === undefined || c.createdAt >= after) &&
        store.bindingByConversation(c.id) === undefined,
    )
    .sort((x, y) => (x.id < y.id ? -1 : 1))[0];
}

/** a user a lost `createUser` may have made: the same handle, looked up again */
export async function findUser(caller: BackendCaller, op: ContactOp): Promise<string | undefined> {
  const lookup = caller.backend.lookupHandles?.bind(caller.backend);
  if (!lookup) return undefined;
  const found = await caller.attempt(() => lookup([op.handle]));
  return found.get(op.handle) ?? undefined;
}
