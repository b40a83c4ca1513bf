import { z } from 'zod';
import type { Plan } from './types.js';

const members = z.array(z.string());
const base = { key: z.string().min(1), name: z.string(), reason: z.string() };
const Op = z.discriminatedUnion('op', [
  z.object({ op: z.literal('contact'), ...base, handle: z.string().min(1), phone: z.string().min(1), displayName: z.string().optional() }),
  z.object({ op: z.literal('rebind'), ...base, conversationId: z.string().min(1), fromKey: z.string().min(1).optional() }),
  z.object({
    op: z.literal('create'),
    ...base,
    members,
    external: members.optional(),
    groups: z.array(z.string()),
    onGroupRemoved: z.enum(['keep', 'empty', 'archive', 'delete']),
    // identifiers of a create are made when it is sent and journaled; a plan file never carries them
    prepared: z.undefined({ error: 'a plan file cannot carry prepared identifiers; make a new plan with `convsync plan --out FILE`' }).optional(),
  }),
  z.object({ op: z.literal('add'), ...base, conversationId: z.string().min(1), members: members.min(1), external: members.optional() }),
  z.object({ op: z.literal('remove'), ...base, conversationId: z.string().min(1), members: members.min(1) }),
  z.object({ op: z.literal('rename'), ...base, conversationId: z.string().min(1), from: z.string(), to: z.string().min(1) }),
  z.object({ op: z.literal('unbind'), ...base, conversationId: z.string().min(1) }),
  z.object({ op: z.literal('archive'), ...base, conversationId: z.string().min(1) }),
  z.object({ op: z.literal('delete'), ...base, conversationId: z.string().min(1) }),
]);

const PlanFile = z.looseObject({
  version: z.literal(1),
  ownerId: z.string().min(1),
  policy: z.enum(['sync', 'upsert-only', 'create-only']),
  snapshotDigest: z.string().startsWith('sha256:'),
  ops: z.array(Op),
  blocked: z.array(z.looseObject({ kind: z.string(), why: z.string(), op: Op })),
  warnings: z.array(z.string()),
  summary: z.looseObject({ quarantined: z.boolean() }),
});

/** A saved plan, checked before anything of it is applied. */
export function parsePlanFile(text: string): Plan {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`not a plan file: ${(e as Error).message}`);
  }
  const result = PlanFile.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`not a valid plan file: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  return result.data as unknown as Plan;
}
