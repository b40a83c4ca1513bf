import { z } from 'zod';

/**
 * The one configuration schema. Objects are strict so that a misspelt key is an error with its
 * path rather than a silently ignored setting. Secrets are given either inline (usually through
 * `${VAR}` interpolation) or as a `*File` path that is read when needed, so a rotated secret file
 * is picked up on the next token renewal.
 */

const nonEmpty = z.string().min(1, 'must not be empty');
const url = z.url({ error: 'must be an absolute URL (http:// or https://)' });

function regexString(what: string) {
  return z.string().superRefine((value, ctx) => {
    try {
      new RegExp(value);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `${what} is not a valid regular expression: ${(e as Error).message}` });
    }
  });
}

/** `{ x?: string, xFile?: string }` with exactly one of the two set */
function secretPair<K extends string>(key: K, required: boolean) {
  const fileKey = `${key}File`;
  return (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const inline = value[key] !== undefined;
    const file = value[fileKey] !== undefined;
    if (inline && file) ctx.addIssue({ code: 'custom', path: [fileKey], message: `give either ${key} or ${fileKey}, not both` });
    else if (required && !inline && !file) ctx.addIssue({ code: 'custom', path: [fileKey], message: `${key} or ${fileKey} is required` });
  };
}

const BearerAuth = z
  .strictObject({ type: z.literal('bearer'), token: nonEmpty.optional(), tokenFile: nonEmpty.optional() })
  .superRefine(secretPair('token', true));

const BasicAuth = z
  .strictObject({
    type: z.literal('basic'),
    username: nonEmpty,
    password: nonEmpty.optional(),
    passwordFile: nonEmpty.optional(),
  })
  .superRefine(secretPair('password', true));

const OAuth2Auth = z
  .strictObject({
    type: z.literal('oauth2'),
    tokenUrl: url,
    clientId: nonEmpty,
    clientSecret: nonEmpty.optional(),
    clientSecretFile: nonEmpty.optional(),
    scope: nonEmpty.optional(),
    audience: nonEmpty.optional(),
  })
  .superRefine(secretPair('clientSecret', true));

export const HttpAuth = z.discriminatedUnion('type', [BearerAuth, BasicAuth, OAuth2Auth], {
  error: () => 'auth.type must be one of: bearer, basic, oauth2',
});
export type HttpAuth = z.infer<typeof HttpAuth>;

const sourceName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lower-case letters, digits, "-" or "_" (it becomes part of group keys)');

const ScimSource = z.strictObject({
  name: sourceName,
  type: z.literal('scim'),
  baseUrl: url,
  auth: HttpAuth,
  groups: z
    .strictObject({
      /** SCIM filter passed to the provider as-is */
      filter: nonEmpty.optional(),
      /** page size; capped by the provider's ServiceProviderConfig filter.maxResults */
      pageSize: z.int().min(1).max(1000).default(100),
    })
    .prefault({}),
  users: z.strictObject({ pageSize: z.int().min(1).max(1000).default(100) }).prefault({}),
  /** expand members of type Group into their users (cycle-safe) */
  expandNested: z.boolean().default(true),
  /** parallel member reads */
  concurrency: z.int().min(1).max(64).default(8),
  timeoutMs: z.int().min(100).default(30_000),
  /** attempts per request on transient failures before the read counts as failed */
  maxAttempts: z.int().min(1).max(10).default(3),
});

const FileSource = z.strictObject({
  name: sourceName,
  type: z.literal('file'),
  /** a YAML or JSON file, or a directory of them, holding `users:` and `groups:` */
  path: nonEmpty,
});

const ScimPushSource = z
  .strictObject({
    name: sourceName,
    type: z.literal('scim-push'),
    /** where the daemon serves this source's SCIM endpoint (the Tenant URL given to Entra or Okta) */
    path: z.string().regex(/^\/[A-Za-z0-9/_-]*[A-Za-z0-9_-]$/, 'must be an absolute URL path such as /scim/v2').default('/scim/v2'),
    /** the bearer token Entra ("Secret Token") or Okta sends */
    token: nonEmpty.optional(),
    tokenFile: nonEmpty.optional(),
  })
  .superRefine(secretPair('token', true));

export const SourceConfig = z.discriminatedUnion('type', [ScimSource, FileSource, ScimPushSource], {
  error: () => 'type must be one of: scim, file, scim-push',
});
export type SourceConfig = z.infer<typeof SourceConfig>;
export type ScimSourceConfig = z.infer<typeof ScimSource>;
export type FileSourceConfig = z.infer<typeof FileSource>;
export type ScimPushSourceConfig = z.infer<typeof ScimPushSource>;

const WireBackendConfig = z
  .strictObject({
    type: z.literal('wire'),
    baseUrl: url,
    email: z.email({ error: 'must be an e-mail address' }).optional(),
    handle: nonEmpty.optional(),
    password: nonEmpty.optional(),
    passwordFile: nonEmpty.optional(),
    /** defaults to the team of the logged-in user (GET /self) */
    teamId: z.uuid({ error: 'must be a UUID' }).optional(),
    /** cookie label; a new login revokes older cookies with the same label */
    label: nonEmpty.default('convsync'),
    /** the backend's maxConvSize, daemon included (Wire's default is 500) */
    maxConversationSize: z.int().min(2).default(500),
    apiVersions: z
      .strictObject({ min: z.int().min(6).default(6), max: z.int().max(9).default(9) })
      .prefault({}),
  })
  .superRefine((v, ctx) => {
    if (!v.email && !v.handle) ctx.addIssue({ code: 'custom', path: ['email'], message: 'email or handle is required' });
    secretPair('password', true)(v, ctx);
  });
export type WireBackendConfig = z.infer<typeof WireBackendConfig>;

export const BackendConfig = z.discriminatedUnion('type', [WireBackendConfig], {
  error: () => 'backend.type must be one of: wire',
});
export type BackendConfig = z.infer<typeof BackendConfig>;

export const RemoveMode = z.enum(['managed', 'authoritative', 'never'], {
  error: () => 'must be one of: managed, authoritative, never',
});
export type RemoveMode = z.infer<typeof RemoveMode>;

const Mapping = z
  .strictObject({
    match: z
      .strictObject({
        displayName: regexString('match.displayName').optional(),
        /** regex on the group's id at its source */
        id: regexString('match.id').optional(),
        /** only groups from this source */
        source: sourceName.optional(),
      })
      .refine((m) => m.displayName !== undefined || m.id !== undefined || m.source !== undefined, {
        message: 'match needs at least one of displayName, id, source',
      }),
    /** conversation name; {0} is the whole match, {1}… the regex groups, {displayName} the group's name */
    name: nonEmpty,
    /**
     * Conversation key. Groups whose key renders the same feed one conversation (union).
     * Without it each group has its own conversation, which follows the group through renames.
     */
    conversation: nonEmpty.optional(),
    remove: RemoveMode.default('managed'),
    /** re-add a member who left the conversation on their own (found by a drift refresh) */
    readdLeavers: z.boolean().default(false),
    /** create the conversation again when it was deleted by hand (found by a drift refresh) */
    recreateDeleted: z.boolean().default(false),
    /** what happens to the conversation when its groups are gone */
    onGroupRemoved: z.enum(['keep', 'delete'], { error: () => 'must be one of: keep, delete' }).default('keep'),
  });
export type MappingConfig = z.infer<typeof Mapping>;

export const Policy = z.enum(['sync', 'upsert-only', 'create-only'], {
  error: () => 'must be one of: sync, upsert-only, create-only',
});
export type Policy = z.infer<typeof Policy>;

const cronField = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/;
const schedule = z.string().refine(
  (s) => {
    const fields = s.trim().split(/\s+/);
    return (fields.length === 5 || fields.length === 6) && fields.every((f) => cronField.test(f));
  },
  { message: 'must be a cron expression with 5 or 6 fields, e.g. "*/5 * * * *"' },
);

export const ConfigSchema = z.strictObject({
  store: z.strictObject({ path: nonEmpty }),
  /** ownership id written on every binding; convsync touches only conversations it owns */
  ownerId: nonEmpty.default('convsync'),
  sources: z.array(SourceConfig).min(1, 'at least one source is required').superRefine((list, ctx) => {
    const seen = new Set<string>();
    const paths = new Set<string>();
    list.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate source name "${s.name}"` });
      seen.add(s.name);
      if (s.type === 'scim-push') {
        if (paths.has(s.path)) ctx.addIssue({ code: 'custom', path: [i, 'path'], message: `another scim-push source is served at ${s.path}` });
        paths.add(s.path);
      }
    });
  }),
  backend: BackendConfig,
  identity: z
    .strictObject({
      /** id | externalId | userName | email | an attribute path such as "urn:…:enterprise:2.0:User:employeeNumber" */
      from: nonEmpty.default('externalId'),
      /**
       * none: the value is the backend user id. handle: the value is a chat handle, looked up on the
       * backend (Wire: POST /list-users) and cached in the store.
       */
      lookup: z.enum(['none', 'handle'], { error: () => 'must be one of: none, handle' }).default('none'),
      /** how long a looked-up id (or a "not found") is trusted */
      cacheTtlHours: z.number().positive().default(24),
    })
    .prefault({}),
  mappings: z.array(Mapping).min(1, 'at least one mapping is required'),
  policy: Policy.default('sync'),
  guards: z
    .strictObject({
      maxRemovalsPerRun: z.int().min(0).default(100),
      maxRemovalRatio: z.number().min(0).max(1).default(0.2),
      /** conversations smaller than this are exempt from the ratio guard (one leaver of three is 33%) */
      removalRatioMinMembers: z.int().min(0).default(10),
      maxDeletesPerRun: z.int().min(0).default(5),
      /** a source listing this share fewer groups or memberships than at its last good read is distrusted */
      maxSourceShrink: z.number().min(0).max(1).default(0.5),
      /** backend user ids never removed (the daemon's own user is always protected) */
      protect: z.array(nonEmpty).default([]),
    })
    .prefault({}),
  schedule: schedule.default('*/5 * * * *'),
  reconcile: z
    .strictObject({
      concurrency: z.int().min(1).max(64).default(4),
      /** requests per second sent to the backend (token bucket) */
      ratePerSecond: z.number().positive().default(20),
      burst: z.int().min(1).default(10),
      maxAttempts: z.int().min(1).max(20).default(8),
      baseDelayMs: z.int().min(1).default(250),
      maxDelayMs: z.int().min(1).default(30_000),
    })
    .prefault({}),
  drift: z
    .strictObject({
      /** re-read every owned conversation from the backend every N sync runs (0: only on `sync --refresh`) */
      refreshEveryRuns: z.int().min(0).default(12),
    })
    .prefault({}),
  server: z
    .strictObject({
      host: nonEmpty.default('0.0.0.0'),
      port: z.int().min(0).max(65535).default(8080),
      /** bearer token for POST /sync; without it the route is disabled */
      syncToken: nonEmpty.optional(),
      syncTokenFile: nonEmpty.optional(),
      /** largest request body accepted (SCIM push), in bytes */
      maxBodyBytes: z.int().min(1024).default(1_048_576),
    })
    .superRefine(secretPair('syncToken', false))
    .prefault({}),
  daemon: z
    .strictObject({
      /** pushed changes are collected this long after the first one, then reconciled together */
      debounceMs: z.int().min(0).default(1000),
      /** on SIGTERM, how long the call in flight may take before the daemon exits anyway */
      shutdownGraceMs: z.int().min(0).default(20_000),
    })
    .prefault({}),
  log: z
    .strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
    .prefault({}),
});

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
