import * as z from 'zod';
import { AuthError, CapacityError, PermanentError, type SyncError } from '../../errors.js';
import { errorForStatus, parseJson, type HttpResponse } from '../../http/request.js';

/**
 * The shapes of Wire's answers that the adapter relies on (API v6–v15: v10+ has no unqualified
 * `id` and an optional `members.self`). Anything else is an answer outside the contract.
 */
const QualifiedId = z.looseObject({ id: z.string(), domain: z.string() });

export const VersionInfo = z.looseObject({
  supported: z.array(z.int()),
  development: z.array(z.int()).optional(),
  domain: z.string(),
});

export const AccessToken = z.looseObject({
  user: z.string(),
  access_token: z.string().min(1),
  token_type: z.literal('Bearer'),
  expires_in: z.number().positive(),
});

export const SelfProfile = z.looseObject({
  qualified_id: QualifiedId,
  name: z.string().optional(),
  team: z.string().nullish(),
});

export const Conversation = z.looseObject({
  qualified_id: QualifiedId,
  type: z.int(),
  protocol: z.enum(['proteus', 'mixed', 'mls']).optional(),
  group_conv_type: z.string().nullish(),
  name: z.string().nullish(),
  team: z.string().nullish(),
  creator: z.string().nullish(),
  access: z.array(z.string()).optional(),
  members: z.looseObject({
    others: z.array(z.looseObject({ qualified_id: QualifiedId, conversation_role: z.string().optional() })),
  }),
});
export type Conversation = z.infer<typeof Conversation>;

export const ConversationIdsPage = z.looseObject({
  qualified_conversations: z.array(QualifiedId),
  has_more: z.boolean(),
  paging_state: z.string().nullish(),
});

export const ConversationsFound = z.looseObject({
  found: z.array(Conversation),
  not_found: z.array(QualifiedId).optional(),
  failed: z.array(QualifiedId).optional(),
});

/** `GET /teams/{tid}/features/{name}`: only what convsync reads */
export const Feature = z.looseObject({
  status: z.enum(['enabled', 'disabled']),
  config: z.looseObject({}).optional(),
});

export const TeamMember = z.looseObject({
  user: z.string(),
  permissions: z.looseObject({ self: z.int(), copy: z.int() }).nullish(),
});

export const UsersFound = z.looseObject({
  found: z.array(z.looseObject({ qualified_id: QualifiedId, handle: z.string().nullish() })),
});

export const MemberJoinEvent = z.looseObject({
  type: z.literal('conversation.member-join'),
  data: z.looseObject({ users: z.array(z.looseObject({ qualified_id: QualifiedId })) }),
});

export function parseAnswer<T>(schema: z.ZodType<T>, res: HttpResponse, what: string): T {
  const result = schema.safeParse(parseJson(res.text));
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue ? `${issue.path.join('.') || '(body)'}: ${issue.message}` : 'unreadable body';
    throw new PermanentError(`${what}: answer outside the Wire contract (HTTP ${res.status}, ${where})`, {
      origin: 'wire',
      status: res.status,
      label: 'contract',
    });
  }
  return result.data;
}

/** Wire's error body is `{code, label, message}`; only a body with all three counts as one. */
/**
 * Where a listing goes on, or undefined after its last page. `has_more` without a paging state,
 * or a paging state given again (which would page for ever), is outside the contract.
 */
export function nextPagingState(page: { has_more: boolean; paging_state?: string | null }, seen: Set<string>, what: string): string | undefined {
  if (!page.has_more) return undefined;
  const paging = page.paging_state;
  const outside = !paging ? 'has_more without paging_state' : seen.has(paging) ? 'a paging_state given twice' : undefined;
  if (outside !== undefined) throw new PermanentError(`${what}: ${outside}`, { origin: 'wire', label: 'contract' });
  seen.add(paging!);
  return paging!;
}

/** Wire's own answer that a conversation does not exist (galley's `no-conversation`) */
export function isNoConversation(res: HttpResponse): boolean {
  return labelOf(res) === 'no-conversation';
}

/** Wire's 404 for a version prefix it does not serve (never announced, or turned off) */
export function isUnsupportedVersion(res: HttpResponse): boolean {
  return labelOf(res) === 'unsupported-version';
}

const labelOf = (res: HttpResponse): unknown => (parseJson(res.text) as { label?: unknown } | undefined)?.label;

export function wireError(res: HttpResponse, what: string): SyncError {
  const body = parseJson(res.text) as { code?: unknown; label?: unknown; message?: unknown } | undefined;
  const isWire = body !== undefined && typeof body.code === 'number' && typeof body.label === 'string' && typeof body.message === 'string';
  const label = isWire ? (body.label as string) : undefined;
  const message = `${what}: ${isWire ? (body.message as string) : `HTTP ${res.status}`}`;
  const details = { origin: 'wire', status: res.status, label };
  if (res.status === 403 && label === 'too-many-members') return new CapacityError(message, details);
  if (res.status === 401) return new AuthError(message, details);
  if (res.status === 403 && (label === 'invalid-credentials' || label?.startsWith('code-authentication') || label === 'suspended')) {
    return new AuthError(message, details);
  }
  return errorForStatus('wire', res, label, message);
}
