import type { BackendConversation } from '../backends/types.js';
import { PermanentError } from '../errors.js';
import type { ContactOp, CreateOp } from '../plan/types.js';
import type { Store } from '../store/store.js';
import type { BackendCaller } from './caller.js';

/** clocks of the daemon and the backend may differ this much */
const CLOCK_SKEW_MS = 60_000;

/** more than one conversation could be the one a lost create made: none is adopted */
export class UnclearAdoption extends Error {
  override name = 'UnclearAdoption';
}

/**
 * What a create whose answer was lost (or whose run was killed) may have made, looked for before
 * any new attempt. Exact where the create carried an identifier journaled with it (Mixin's derived
 * id, Protocol's marker: its conversation is adopted even renamed or joined by hand since, those
 * people then recorded as added by hand); otherwise narrow: a conversation with the op's name that no binding ever
 * referred to, made by the daemon's own user (where the backend says who made it), not before the
 * op was journaled (where it says when), and holding nobody the create did not ask for. A
 * conversation a person made is never adopted; two that fit are a question for the operator.
 */
export async function findCreated(
  caller: BackendCaller,
  store: Store,
  op: CreateOp,
  since: string,
  listed?: { conversations?: BackendConversation[] },
): Promise<BackendConversation | undefined> {
  const b = caller.backend;
  const id = op.prepared?.conversationId;
  if (id) return caller.attempt(() => b.get(id));
  const list = b.list?.bind(b);
  if (!list) throw new PermanentError(`${b.id} cannot list its conversations, so a create whose answer was lost cannot be checked`, { origin: b.id });
  const conversations = listed?.conversations ?? (await caller.attempt(() => list()));
  if (listed) listed.conversations = conversations;
  const marker = op.prepared?.marker;
  // the marker journaled with the create tells its conversation alone, whatever a person did to it since
  if (marker !== undefined)
    return unique(
      op,
      conversations.filter((c) => c.marker === marker && store.bindingByConversation(c.id) === undefined),
    );
  const self = b.capabilities.reportsCreator ? (await caller.whoami()).userId : undefined;
  const after = Date.parse(since) - CLOCK_SKEW_MS;
  const asked = new Set([...op.members, ...(op.external ?? [])]);
  const fits = conversations.filter(
    (c) =>
      c.name === op.name &&
      (self === undefined || (c.creator !== undefined && b.parseUserId(c.creator) === self)) &&
      (c.createdAt === undefined || c.createdAt >= after) &&
      c.members.every((m) => asked.has(m)) &&
      store.bindingByConversation(c.id) === undefined,
  );
  return unique(op, fits);
}

function unique(op: CreateOp, fits: readonly BackendConversation[]): BackendConversation | undefined {
  if (fits.length > 1) {
    throw new UnclearAdoption(
      `${fits.length} conversations could be the one a lost create of "${op.name}" made (${fits.map((c) => c.id).join(', ')}); none is adopted: ` +
        'delete the ones that are not wanted on the backend, and the next run adopts the one left',
    );
  }
  return fits[0];
}

/** a user a lost `createUser` may have made: the same handle, looked up again */
export async function findUser(caller: BackendCaller, op: ContactOp): Promise<string | undefined> {
  const lookup = caller.backend.lookupHandles?.bind(caller.backend);
  if (!lookup) return undefined;
  const found = await caller.attempt(() => lookup([op.handle]));
  return found.get(op.handle) ?? undefined;
}
