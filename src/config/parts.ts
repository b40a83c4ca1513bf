import * as z from 'zod';

/** The pieces the configuration schemas are made of: strings, URLs, durations, secrets and paths. */

export const nonEmpty = z.string().min(1, 'must not be empty');
export const url = z.url({ protocol: /^https?$/, error: 'must be an absolute URL (http:// or https://)' });

export function regexString(what: string) {
  return z.string().superRefine((value, ctx) => {
    try {
      new RegExp(value);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `${what} is not a valid regular expression: ${(e as Error).message}` });
    }
  });
}

/** `{ x?: string, xFile?: string }` with exactly one of the two set */
export function secretPair<K extends string>(key: K, required: boolean) {
  const fileKey = `${key}File`;
  return (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const inline = value[key] !== undefined;
    const file = value[fileKey] !== undefined;
    // `pair`: what set the other key is told too (a variable beside the file's key)
    if (inline && file) ctx.addIssue({ code: 'custom', path: [fileKey], message: `give either ${key} or ${fileKey}, not both`, params: { pair: key } });
    else if (required && !inline && !file) ctx.addIssue({ code: 'custom', path: [fileKey], message: `${key} or ${fileKey} is required` });
  };
}

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const DURATION_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
export const duration = z.string().regex(DURATION, 'must be a duration such as 90s, 15m, 1h or 2d');

/** a validated duration (`15m`, `1h`) in milliseconds */
export function durationMs(value: string): number {
  const m = DURATION.exec(value);
  if (!m) throw new Error(`not a duration: ${value}`);
  return Number(m[1]) * DURATION_MS[m[2] as keyof typeof DURATION_MS];
}

export const secret = (what: string) => nonEmpty.optional().describe(`${what} (prefer the *File key or \${VAR})`);
export const secretFile = (what: string) => nonEmpty.optional().describe(`file holding ${what}, read at each use`);

export const sourceName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lower-case letters, digits, "-" or "_" (it becomes part of group keys)')
  .describe('lower-case id; group keys are <name>:<group id>');

export const urlPath = z.string().regex(/^\/[A-Za-z0-9/_-]*[A-Za-z0-9_-]$/, 'must be an absolute URL path such as /scim/v2 or /saml');

/** `{ aFile?, bFile? }` given together or not at all */
export function filePair(a: string, b: string) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    if ((value[a] === undefined) !== (value[b] === undefined))
      ctx.addIssue({ code: 'custom', path: [value[a] === undefined ? a : b], message: `${a} and ${b} go together` });
  };
}
