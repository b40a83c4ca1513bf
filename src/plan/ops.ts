import * as z from 'zod';

/**
 * The ops a plan is made of, defined once: the types in `types.ts` are inferred from these schemas,
 * and a saved plan file is checked against them before anything of it is applied.
 */

const members = z.array(z.string());
const conversationId = z.string().min(1);
const base = {
  key: z.string().min(1),
  /** the conversation's name, for people reading the plan */
  name: z.string(),
  reason: z.string(),
};

export const RemovedGroupAction = z.enum(['keep', 'empty', 'archive', 'delete']);

/** a user the backend must make before they can be added (a Protocol contact, `contacts.create`) */
const ContactOp = z.object({
  op: z.literal('contact'),
  ...base,
  /** the handle looked up and not found */
  handle: z.string().min(1),
  phone: z.string().min(1),
  displayName: z.string().optional(),
});

const createFields = {
  op: z.literal('create'),
  ...base,
  members,
  /** members brought along who were added by hand (a conversation moved to a channel keeps them as such) */
  external: members.optional(),
  groups: z.array(z.string()),
  onGroupRemoved: RemovedGroupAction,
};
const CreateOp = z.object({
  ...createFields,
  /** identifiers the backend derived before the call, journaled with it (Mixin) */
  prepared: z.record(z.string(), z.string()).optional(),
});

/** bound again to the conversation a group had before it was let go (never a second one) */
const RebindOp = z.object({
  op: z.literal('rebind'),
  ...base,
  conversationId,
  /** the key it was bound under, when the group's key changed (a source renamed, a mapping changed) */
  fromKey: z.string().min(1).optional(),
});
const AddOp = z.object({
  op: z.literal('add'),
  ...base,
  conversationId,
  members: members.min(1),
  /** of `members`, those brought along who were added by hand (a conversation moved to a channel) */
  external: members.optional(),
});
const RemoveOp = z.object({ op: z.literal('remove'), ...base, conversationId, members: members.min(1) });
const RenameOp = z.object({ op: z.literal('rename'), ...base, conversationId, from: z.string(), to: z.string().min(1) });
/** forget the binding; the conversation stays as it is on the backend */
const UnbindOp = z.object({ op: z.literal('unbind'), ...base, conversationId });
/** archived on the backend (kept, read-only) and no longer managed */
const ArchiveOp = z.object({ op: z.literal('archive'), ...base, conversationId });
const DeleteOp = z.object({ op: z.literal('delete'), ...base, conversationId });

const others = [ContactOp, RebindOp, AddOp, RemoveOp, RenameOp, UnbindOp, ArchiveOp, DeleteOp] as const;

export const PlanOp = z.discriminatedUnion('op', [CreateOp, ...others]);

/** an op of a saved plan: identifiers of a create are made when it is sent and journaled, so a file never carries them */
export const PlanFileOp = z.discriminatedUnion('op', [
  z.object({
    ...createFields,
    prepared: z.undefined({ error: 'a plan file cannot carry prepared identifiers; make a new plan with `convsync plan --out FILE`' }).optional(),
  }),
  ...others,
]);

export type ContactOp = z.infer<typeof ContactOp>;
export type CreateOp = z.infer<typeof CreateOp>;
export type RebindOp = z.infer<typeof RebindOp>;
export type AddOp = z.infer<typeof AddOp>;
export type RemoveOp = z.infer<typeof RemoveOp>;
export type RenameOp = z.infer<typeof RenameOp>;
export type UnbindOp = z.infer<typeof UnbindOp>;
export type ArchiveOp = z.infer<typeof ArchiveOp>;
export type DeleteOp = z.infer<typeof DeleteOp>;
