import * as z from 'zod';
import { parseSecretJson } from '../config/secrets.js';
import { PlanFileOp } from './ops.js';
import type { Plan } from './types.js';

const PlanFile = z.looseObject({
  version: z.literal(1),
  ownerId: z.string().min(1),
  policy: z.enum(['sync', 'upsert-only', 'create-only']),
  snapshotDigest: z.string().startsWith('sha256:'),
  runId: z.int().positive().optional(),
  ops: z.array(PlanFileOp),
  blocked: z.array(z.looseObject({ kind: z.string(), why: z.string(), op: PlanFileOp })),
  warnings: z.array(z.string()),
  summary: z.looseObject({ quarantined: z.boolean() }),
});

/** A saved plan, checked before anything of it is applied. */
export function parsePlanFile(text: string): Plan {
  let raw: unknown;
  try {
    // told by line and column, never quoted: a file given by mistake may hold a secret
    raw = parseSecretJson(text, 'it');
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
