import { z } from 'zod';

/**
 * The one configuration schema, and the source of the configuration reference in README.md
 * (`npm run docs`; a test fails when they differ). Objects are strict so that a misspelt key is an
 * error with its path. Secrets are given inline (usually through `${VAR}`) or as a `*File` path
 * that is read when needed, so a rotated secret file is picked up at the next token renewal.
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

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const DURATION_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const duration = z.string().regex(DURATION, 'must be a duration such as 90s, 15m, 1h or 2d');

/** a validated duration (`15m`, `1h`) in milliseconds */
export function durationMs(value: string): number {
  const m = DURATION.exec(value);
  if (!m) throw new Error(`not a duration: ${value}`);
  return Number(m[1]) * DURATION_MS[m[2] as keyof typeof DURATION_MS];
}

const secret = (what: string) => nonEmpty.optional().describe(`${what} (prefer the *File key or \${VAR})`);
const secretFile = (what: string) => nonEmpty.optional().describe(`file holding ${what}, read at each use`);

const BearerAuth = z
  .strictObject({
    type: z.literal('bearer').describe('a static bearer token'),
    token: secret('the token'),
    tokenFile: secretFile('the token'),
  })
  .superRefine(secretPair('token', true));

const BasicAuth = z
  .strictObject({
    type: z.literal('basic').describe('HTTP basic authentication'),
    username: nonEmpty.describe('user name'),
    password: secret('the password'),
    passwordFile: secretFile('the password'),
  })
  .superRefine(secretPair('password', true));

const OAuth2Auth = z
  .strictObject({
    type: z.literal('oauth2').describe('OAuth2 client credentials; the token is renewed before it expires and on a 401'),
    tokenUrl: url.describe('token endpoint'),
    clientId: nonEmpty.describe('client id'),
    clientSecret: secret('the client secret'),
    clientSecretFile: secretFile('the client secret'),
    scope: nonEmpty.optional().describe('scope requested'),
    audience: nonEmpty.optional().describe('audience requested (Keycloak: the SCIM base URL)'),
  })
  .superRefine(secretPair('clientSecret', true));

export const HttpAuth = z.discriminatedUnion('type', [BearerAuth, BasicAuth, OAuth2Auth], {
  error: () => 'auth.type must be one of: bearer, basic, oauth2',
});
export type HttpAuth = z.infer<typeof HttpAuth>;

const sourceName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lower-case letters, digits, "-" or "_" (it becomes part of group keys)')
  .describe('lower-case id; group keys are <name>:<group id>');

const ScimSource = z.strictObject({
  name: sourceName,
  type: z.literal('scim').describe('pull groups from a SCIM 2.0 service provider'),
  baseUrl: url.describe('the SCIM base URL, e.g. https://idp.example.com/scim/v2'),
  auth: HttpAuth.describe('how convsync authenticates to the provider'),
  groups: z
    .strictObject({
      filter: nonEmpty.optional().describe('a SCIM filter passed to the provider as-is, e.g. displayName sw "team-"'),
      pageSize: z.int().min(1).max(1000).default(100).describe("page size, lowered to the provider's filter.maxResults"),
    })
    .prefault({})
    .describe('the group listing'),
  users: z
    .strictObject({ pageSize: z.int().min(1).max(1000).default(100).describe("page size, lowered to the provider's filter.maxResults") })
    .prefault({})
    .describe('the user listing'),
  expandNested: z.boolean().default(true).describe('expand members of type Group into their users (cycle-safe)'),
  concurrency: z.int().min(1).max(64).default(8).describe('group member reads in parallel'),
  timeoutMs: z.int().min(100).default(30_000).describe('per request'),
  maxAttempts: z.int().min(1).max(10).default(3).describe('attempts per request on transient failures before the read counts as failed'),
});

const FileSource = z.strictObject({
  name: sourceName,
  type: z.literal('file').describe('groups from YAML/JSON files (users: and groups:), for GitOps'),
  path: nonEmpty.describe('a file, or a directory of *.yaml, *.yml and *.json files'),
});

const urlPath = z.string().regex(/^\/[A-Za-z0-9/_-]*[A-Za-z0-9_-]$/, 'must be an absolute URL path such as /scim/v2 or /saml');

const ScimPushSource = z
  .strictObject({
    name: sourceName,
    type: z.literal('scim-push').describe('the daemon is the SCIM service provider Entra ID or Okta pushes to'),
    path: urlPath
      .default('/scim/v2')
      .describe('where the daemon serves it (the Tenant URL given to the IdP ends with this path)'),
    token: secret('the bearer token the IdP sends'),
    tokenFile: secretFile('the bearer token the IdP sends'),
  })
  .superRefine(secretPair('token', true));

/** `{ aFile?, bFile? }` given together or not at all */
function filePair(a: string, b: string) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    if ((value[a] === undefined) !== (value[b] === undefined)) ctx.addIssue({ code: 'custom', path: [value[a] === undefined ? a : b], message: `${a} and ${b} go together` });
  };
}

const SamlSource = z.strictObject({
  name: sourceName,
  type: z.literal('saml').describe('the daemon is a SAML 2.0 service provider; a login records the groups in its assertion'),
  path: urlPath.default('/saml').describe('where the daemon serves <path>/metadata, <path>/login and <path>/acs'),
  publicUrl: url.describe('the daemon as browsers and the IdP reach it, e.g. https://convsync.example.com (the ACS URL is <publicUrl><path>/acs)'),
  entityId: nonEmpty.optional().describe('our SP entity id (default: <publicUrl><path>/metadata)'),
  idp: z
    .strictObject({
      metadataFile: nonEmpty.optional().describe("a file holding the IdP's metadata XML"),
      metadataUrl: url.optional().describe("the IdP's metadata URL, read when first needed and again after a failure"),
    })
    .refine((v) => (v.metadataFile === undefined) !== (v.metadataUrl === undefined), { message: 'give exactly one of metadataFile, metadataUrl' })
    .describe('the identity provider'),
  sp: z
    .strictObject({
      signingKeyFile: nonEmpty.optional().describe('PEM private key that signs our login requests (if the IdP metadata asks for signed requests)'),
      signingCertFile: nonEmpty.optional().describe('its PEM certificate, published in our metadata'),
      encryptionKeyFile: nonEmpty.optional().describe('PEM private key for encrypted assertions (then assertions must be encrypted)'),
      encryptionCertFile: nonEmpty.optional().describe('its PEM certificate, published in our metadata'),
    })
    .superRefine(filePair('signingKeyFile', 'signingCertFile'))
    .superRefine(filePair('encryptionKeyFile', 'encryptionCertFile'))
    .prefault({})
    .describe("the service provider's own keys"),
  allowIdpInitiated: z.boolean().default(false).describe('accept responses that answer no login request of ours (IdP-initiated)'),
  requestTtlSeconds: z.int().min(30).max(3600).default(600).describe('how long a login request may be answered, and how old a response may be'),
  clockSkewSeconds: z.int().min(0).max(300).default(60).describe("tolerated difference between the IdP's clock and ours"),
  membershipTtlHours: z.number().positive().default(720).describe('a membership learnt at a login expires this long after it unless a new login confirms it (SAML never says "removed")'),
  groups: z
    .strictObject({
      attribute: nonEmpty.default('groups').describe('the attribute carrying the groups: groups, memberOf, http://schemas.microsoft.com/ws/2008/06/identity/claims/groups, …'),
      match: regexString('groups.match').optional().describe('values that do not match this regex are ignored'),
      key: nonEmpty.default('{0}').describe('the group id made of a value: {0} the whole value, {1}… and {name} the groups of match'),
      overageAttribute: nonEmpty
        .default('http://schemas.microsoft.com/claims/groups.link')
        .describe("Entra's overage claim: when it comes without groups, the user's groups are unknown, not empty"),
    })
    .prefault({})
    .describe('how an assertion names groups'),
  users: z
    .strictObject({
      emailAttribute: nonEmpty.optional().describe('attribute read as the e-mail (default: the NameID when it is an e-mail address)'),
      externalIdAttribute: nonEmpty.optional().describe('attribute read as externalId (identity.from: externalId)'),
      displayNameAttribute: nonEmpty.optional().describe('attribute read as the display name'),
      attributes: z.array(nonEmpty).default([]).describe('further attributes recorded with the login (identity.from can read them by name)'),
    })
    .prefault({})
    .describe('what is recorded of the user'),
});

export const SourceConfig = z.discriminatedUnion('type', [ScimSource, FileSource, ScimPushSource, SamlSource], {
  error: () => 'type must be one of: scim, file, scim-push, saml',
});
export type SourceConfig = z.infer<typeof SourceConfig>;
export type ScimSourceConfig = z.infer<typeof ScimSource>;
export type FileSourceConfig = z.infer<typeof FileSource>;
export type ScimPushSourceConfig = z.infer<typeof ScimPushSource>;
export type SamlSourceConfig = z.infer<typeof SamlSource>;

const WireBackendConfig = z
  .strictObject({
    type: z.literal('wire').describe('Wire, API v6–v15'),
    baseUrl: url.describe('e.g. https://prod-nginz-https.wire.com'),
    conversationType: z
      .enum(['group', 'channel'], { error: () => 'must be one of: group, channel' })
      .default('group')
      .describe('group: proteus team groups (Wire without MLS); channel: MLS team channels, managed by a team admin (Wire cloud, MLS teams)'),
    cookieFile: nonEmpty.optional().describe("a team app's cookie (or a user's zuid cookie), instead of email/handle and password: convsync never logs in, it renews through /access"),
    email: z.email({ error: 'must be an e-mail address' }).optional().describe('the team member convsync logs in as (or handle)'),
    handle: nonEmpty.optional().describe('its handle, instead of email'),
    password: secret('its password'),
    passwordFile: secretFile('its password'),
    teamId: z.uuid({ error: 'must be a UUID' }).optional().describe('the team conversations are created in (default: the team of the logged-in user)'),
    label: nonEmpty.default('convsync').describe('cookie label; a new login revokes older cookies with the same label'),
    maxConversationSize: z.int().min(2).default(500).describe("the backend's maxConvSize, convsync included (proteus groups; MLS channels have no such limit)"),
    apiVersions: z
      .strictObject({
        min: z.int().min(6).default(6).describe('lowest API version accepted'),
        max: z.int().max(16).default(15).describe('highest API version used (a development version only when set to one)'),
      })
      .prefault({})
      .describe('the API version range negotiated through /api-version'),
  })
  .superRefine((v, ctx) => {
    const login = v.email !== undefined || v.handle !== undefined || v.password !== undefined || v.passwordFile !== undefined;
    if (v.cookieFile !== undefined) {
      if (login) ctx.addIssue({ code: 'custom', path: ['cookieFile'], message: 'give either cookieFile or email/handle and password, not both' });
      return;
    }
    if (!v.email && !v.handle) ctx.addIssue({ code: 'custom', path: ['email'], message: 'email or handle is required (or cookieFile)' });
    secretPair('password', true)(v, ctx);
  });
export type WireBackendConfig = z.infer<typeof WireBackendConfig>;

const ProtocolBackendConfig = z.strictObject({
  type: z.literal('protocol').describe('a REST chat API of the Protocol kind (groups carry their conversation)'),
  baseUrl: url.describe('the API base, e.g. https://api.protocol.chat/v1'),
  auth: HttpAuth.describe('a static bearer token (recommended), basic, or OAuth2 client credentials'),
  contacts: z
    .strictObject({
      matchOn: z
        .enum(['username', 'phone_number'], { error: () => 'must be one of: username, phone_number' })
        .default('username')
        .describe('the contact field the identity value (identity.lookup: handle) is matched on'),
      create: z.boolean().default(false).describe('create a missing contact (needs identity.phoneFrom, the API requires a phone number)'),
    })
    .prefault({})
    .describe('how directory users become contacts'),
  maxMembers: z.int().min(1).optional().describe('most contacts in a group, if your server has a limit (none is documented)'),
  timeoutMs: z.int().min(100).default(30_000).describe('per request'),
});
export type ProtocolBackendConfig = z.infer<typeof ProtocolBackendConfig>;

const MixinBackendConfig = z.strictObject({
  type: z.literal('mixin').describe('Mixin Messenger, as a bot'),
  baseUrl: url.default('https://api.mixin.one').describe('the API base'),
  keystoreFile: nonEmpty.describe('the bot keystore JSON from the developer dashboard (app_id, session_id, session_private_key as a hex Ed25519 seed)'),
  maxMembers: z.int().min(2).max(256).default(256).describe('most members of a group, the bot included'),
  tokenLifetimeSeconds: z.int().min(1).max(3600).default(60).describe('lifetime of each per-request JWT'),
  verifyUsers: z.boolean().default(true).describe('check user ids with POST /users/fetch (unknown ids are reported, not sent)'),
  timeoutMs: z.int().min(100).default(30_000).describe('per request'),
});
export type MixinBackendConfig = z.infer<typeof MixinBackendConfig>;

export const BackendConfig = z.discriminatedUnion('type', [WireBackendConfig, ProtocolBackendConfig, MixinBackendConfig], {
  error: () => 'backend.type must be one of: wire, protocol, mixin',
});
export type BackendConfig = z.infer<typeof BackendConfig>;

export const RemoveMode = z.enum(['managed', 'authoritative', 'never'], {
  error: () => 'must be one of: managed, authoritative, never',
});
export type RemoveMode = z.infer<typeof RemoveMode>;

const Mapping = z.strictObject({
  match: z
    .strictObject({
      displayName: regexString('match.displayName').optional().describe("regex on the group's name"),
      id: regexString('match.id').optional().describe("regex on the group's id at its source"),
      source: sourceName.optional().describe('only groups of this source'),
    })
    .refine((m) => m.displayName !== undefined || m.id !== undefined || m.source !== undefined, {
      message: 'match needs at least one of displayName, id, source',
    })
    .describe('which groups the rule takes (the first matching rule wins)'),
  name: nonEmpty.describe("conversation name; {1}… and {name} are regex groups, {displayName}, {id}, {source} the group's own"),
  conversation: nonEmpty
    .optional()
    .describe('conversation key template: groups whose key renders the same are united in one conversation (default: one per group)'),
  remove: RemoveMode.default('managed').describe('managed: only members convsync added; authoritative: anyone not in the groups; never'),
  readdLeavers: z.boolean().default(false).describe('add again a member who left the conversation on their own'),
  recreateDeleted: z.boolean().default(false).describe('create again a conversation deleted by hand'),
  onGroupRemoved: z
    .enum(['keep', 'empty', 'archive', 'delete'], { error: () => 'must be one of: keep, empty, archive, delete' })
    .optional()
    .describe(
      "when its groups are gone: keep the conversation (unbound), empty it of the members convsync added, archive or delete it (default: the backend's — keep on Wire and Mixin, archive on Protocol)",
    ),
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
  store: z.strictObject({ path: nonEmpty.describe('the SQLite file (WAL mode); its directory must be writable') }).describe('the store'),
  ownerId: nonEmpty.default('convsync').describe('written on every binding; conversations of another owner are left alone'),
  sources: z
    .array(SourceConfig)
    .min(1, 'at least one source is required')
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      const paths = new Set<string>();
      list.forEach((s, i) => {
        if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate source name "${s.name}"` });
        seen.add(s.name);
        if (s.type === 'scim-push' || s.type === 'saml') {
          if (paths.has(s.path)) ctx.addIssue({ code: 'custom', path: [i, 'path'], message: `another source is served at ${s.path}` });
          paths.add(s.path);
        }
      });
    })
    .describe('where groups come from'),
  backend: BackendConfig.describe('the chat backend'),
  identity: z
    .strictObject({
      phoneFrom: nonEmpty.optional().describe('where a phone number is read, for backends that create contacts (e.g. phoneNumbers.0.value)'),
      from: nonEmpty
        .default('externalId')
        .describe('where the backend user id (or handle) is read: id, externalId, userName, email, a dotted path, or <schema URN>:<attribute>'),
      lookup: z
        .enum(['none', 'handle'], { error: () => 'must be one of: none, handle' })
        .default('none')
        .describe('none: the value is the backend user id; handle: a chat handle, looked up on the backend and cached'),
      cacheTtlHours: z.number().positive().default(24).describe('how long a looked-up id (or a "no such handle") is trusted'),
    })
    .prefault({})
    .describe('how directory users become backend users'),
  mappings: z.array(Mapping).min(1, 'at least one mapping is required').describe('which groups become which conversations'),
  policy: Policy.default('sync').describe('sync: create, add, rename, remove; upsert-only: never remove or delete; create-only: only create'),
  guards: z
    .strictObject({
      maxRemovalsPerRun: z.int().min(0).default(100).describe('more member removals in one run trip the guard'),
      maxRemovalRatio: z.number().min(0).max(1).default(0.2).describe('a conversation losing a larger share of its members trips the guard'),
      removalRatioMinMembers: z.int().min(0).default(10).describe('smaller conversations are exempt from the ratio'),
      maxDeletesPerRun: z.int().min(0).default(5).describe('more conversation deletes or archives in one run trip the guard'),
      maxUnbindsPerRun: z.int().min(0).default(5).describe('more conversations let go (unbound, kept on the backend) in one run trip the guard'),
      window: duration.default('1h').describe('removals, deletes, archives and unbinds of runs scoped to a push or a SAML login count together over this window'),
      maxSourceShrink: z.number().min(0).max(1).default(0.5).describe('a source listing this share fewer groups or memberships than at its last good read trips the guard'),
      protect: z.array(nonEmpty).default([]).describe('backend user ids never removed (convsync itself never is)'),
    })
    .prefault({})
    .describe('what holds a run back (exit 3) until approved'),
  schedule: schedule.default('*/5 * * * *').describe('cron schedule of the daemon'),
  reconcile: z
    .strictObject({
      concurrency: z.int().min(1).max(64).default(4).describe('conversations worked on at once'),
      ratePerSecond: z.number().positive().default(20).describe('backend calls per second (token bucket; halved for a while on 420/429)'),
      burst: z.int().min(1).default(10).describe('calls that may go at once'),
      maxAttempts: z.int().min(1).max(20).default(8).describe('attempts per call on transient failures'),
      baseDelayMs: z.int().min(1).default(250).describe('first backoff ceiling (exponential, full jitter, never below Retry-After)'),
      maxDelayMs: z.int().min(1).default(30_000).describe('largest backoff'),
      lostAnswerSettleMs: z.int().min(0).default(120_000).describe('a create whose answer was lost and that is not found is taken as not made only this long after it was sent (a slow backend may still make it)'),
      maxRetryAfterMs: z.int().min(0).default(300_000).describe("longest wait a server's Retry-After can impose; it pauses every call to the backend"),
    })
    .prefault({})
    .describe('how the plan is applied'),
  drift: z
    .strictObject({
      refreshEveryRuns: z.int().min(0).default(12).describe('re-read the owned conversations from the backend every N sync runs (0: only sync --refresh)'),
    })
    .prefault({})
    .describe('changes made by hand on the chat side'),
  server: z
    .strictObject({
      host: nonEmpty.default('0.0.0.0').describe('address the daemon listens on'),
      port: z.int().min(0).max(65535).default(8080).describe('port of /healthz, /readyz, /metrics, POST /sync, SCIM push and SAML'),
      syncToken: secret('the bearer token of POST /sync'),
      syncTokenFile: secretFile('the bearer token of POST /sync (without a token the route is disabled)'),
      maxBodyBytes: z.int().min(1024).default(1_048_576).describe('largest request body accepted'),
    })
    .superRefine(secretPair('syncToken', false))
    .prefault({})
    .describe("the daemon's HTTP server"),
  daemon: z
    .strictObject({
      debounceMs: z.int().min(0).default(1000).describe('pushed changes are collected this long after the first, then reconciled together'),
      shutdownGraceMs: z.int().min(0).default(20_000).describe('on SIGTERM, how long the calls in flight may take'),
    })
    .prefault({})
    .describe('the long-running mode'),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('pino level'),
    })
    .prefault({})
    .describe('logging'),
});

export type Config = z.infer<typeof ConfigSchema>;
