import * as z from 'zod';
import { BackendConfig } from './backend-schemas.js';
import { duration, nonEmpty, regexString, secret, secretFile, secretPair, sourceName } from './parts.js';
import { SourceConfig } from './source-schemas.js';

/**
 * The one configuration schema, and the source of the configuration reference in README.md
 * (`npm run docs`; a test fails when they differ). Objects are strict so that a misspelt key is an
 * error with its path. Secrets are given inline (usually through `${VAR}`) or as a `*File` path
 * that is read when needed, so a rotated secret file is picked up at the next token renewal.
 */

/** the paths the daemon serves itself: a source served at one of them, or inside, would clash */
const DAEMON_ROUTES = ['/ui', '/approve', '/sync', '/healthz', '/readyz', '/metrics'];

export { durationMs } from './parts.js';
export { HttpAuth, SourceConfig } from './source-schemas.js';
export type { FileSourceConfig, LdapSourceConfig, SamlSourceConfig, ScimPushSourceConfig, ScimSourceConfig } from './source-schemas.js';
export { BackendConfig } from './backend-schemas.js';
export type { MixinBackendConfig, ProtocolBackendConfig, WireBackendConfig } from './backend-schemas.js';

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
      "when its groups are gone: keep the conversation (unbound), empty it of the members convsync added, archive or delete it (default: the backend's — keep on Wire and Mixin, archive on Protocol; Wire cannot archive, Mixin can neither archive nor delete)",
    ),
});
export type MappingConfig = z.infer<typeof Mapping>;

/** what each backend can do with a conversation whose groups are gone (a test checks each adapter has the calls) */
export const REMOVED_GROUP_ACTIONS: Record<BackendConfig['type'], readonly string[]> = {
  wire: ['keep', 'empty', 'delete'],
  mixin: ['keep', 'empty'],
  protocol: ['keep', 'empty', 'archive', 'delete'],
};

export const Policy = z.enum(['sync', 'upsert-only', 'create-only'], {
  error: () => 'must be one of: sync, upsert-only, create-only',
});
export type Policy = z.infer<typeof Policy>;

// names (mon-fri, jan) too; node-cron has the last word (config/schedule.ts)
const cronField = /^(\*|\w+(-\w+)?)(\/\d+)?(,(\*|\w+(-\w+)?)(\/\d+)?)*$/;
const schedule = z.string().refine(
  (s) => {
    const fields = s.trim().split(/\s+/);
    return (fields.length === 5 || fields.length === 6) && fields.every((f) => cronField.test(f));
  },
  { message: 'must be a cron expression with 5 or 6 fields, e.g. "*/5 * * * *"' },
);

export const ConfigSchema = z
  .strictObject({
    store: z.strictObject({ path: nonEmpty.describe('the SQLite file (WAL mode); its directory must be writable') }).describe('the store'),
    retention: z
      .strictObject({
        runs: z
          .strictObject({
            maxAge: duration.default('90d').describe('runs older than this go, with their journal and drift rows'),
            maxCount: z.int().min(100).default(10_000).describe('and runs beyond the newest this many (10,000 is about 35 days at one run per 5 minutes)'),
          })
          .prefault({})
          .describe('runs kept'),
        plans: z
          .int()
          .min(10)
          .default(500)
          .describe('the newest this many runs keep their whole plan; older runs keep their summary (a run awaiting approval keeps its plan)'),
        samlLogins: duration
          .default('400d')
          .describe("a SAML login (one per user) not renewed for this long is forgotten (never before its source's membershipTtlHours is over)"),
      })
      .refine((r) => r.plans <= r.runs.maxCount, { message: 'plans cannot exceed runs.maxCount', path: ['plans'] })
      .prefault({})
      .describe(
        'what the store keeps; pruned after each run, and the file gives the space back. Pending ops, runs awaiting approval, the newest quarantined sync not approved yet and the newest full run are never pruned',
      ),
    ownerId: nonEmpty.default('convsync').describe('written on every binding; conversations of another owner are left alone'),
    sources: z
      .array(SourceConfig)
      .min(1, 'at least one source is required')
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        const served: { name: string; path: string }[] = [];
        // routes match by prefix and without regard to case: a source at /scim would get /scim/v2's requests
        const inside = (a: string, b: string) => b.toLowerCase() === a.toLowerCase() || b.toLowerCase().startsWith(`${a.toLowerCase()}/`);
        list.forEach((s, i) => {
          if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate source name "${s.name}"` });
          seen.add(s.name);
          if (s.type === 'scim-push' || s.type === 'saml') {
            // the daemon's own routes answer first (/approve/{run} takes any POST one level down) or the
            // source's router would answer them (the status page is mounted after the sources)
            const own = DAEMON_ROUTES.find((r) => inside(r, s.path) || inside(s.path, r));
            if (own)
              ctx.addIssue({
                code: 'custom',
                path: [i, 'path'],
                message: `${s.path} (source "${s.name}") overlaps the daemon's own ${own}: give the source another path`,
              });
            const other = served.find((o) => inside(o.path, s.path) || inside(s.path, o.path));
            if (other) {
              const message = `${s.path} (source "${s.name}") overlaps ${other.path} (source "${other.name}"): give each source a path that is not the other's or inside it`;
              ctx.addIssue({ code: 'custom', path: [i, 'path'], message });
            }
            served.push({ name: s.name, path: s.path });
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
        window: duration
          .default('1h')
          .describe('removals, deletes, archives and unbinds of runs scoped to a push or a SAML login count together over this window'),
        maxSourceShrink: z
          .number()
          .min(0)
          .max(1)
          .default(0.5)
          .describe('a source listing this share fewer groups or memberships than at its last good read trips the guard'),
        protect: z
          .array(nonEmpty)
          .default([])
          .describe(
            'backend user ids never removed (convsync itself never is); on Wire a uuid or uuid@domain, on Mixin a uuid: a handle or an e-mail is refused',
          ),
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
        lostAnswerSettleMs: z
          .int()
          .min(0)
          .default(120_000)
          .describe(
            'a create whose answer was lost and that is not found is taken as not made only this long after it was sent (a slow backend may still make it)',
          ),
        maxRetryAfterMs: z.int().min(0).default(300_000).describe("longest wait a server's Retry-After can impose; it pauses every call to the backend"),
        fullPlanEvery: duration
          .default('1h')
          .describe(
            'a run whose sources and conversations are unchanged since the last plan reads and plans nothing, and one where only sources changed plans only the conversations of the groups that did; a full plan still runs this often (0s: every run plans in full)',
          ),
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
        port: z
          .int()
          .min(0)
          .max(65535)
          .default(8080)
          .describe('port of /healthz, /readyz, /metrics, POST /sync, POST /approve/{run}, SCIM push, SAML and the status page /ui'),
        syncToken: secret('the bearer token of POST /sync and POST /approve/{run}'),
        syncTokenFile: secretFile(
          'the bearer token of POST /sync and POST /approve/{run} (without a token these routes are disabled, and approve/sync cannot reach a running daemon)',
        ),
        maxBodyBytes: z.int().min(1024).default(1_048_576).describe('largest request body accepted'),
        uiToken: secret('the token that signs in to the status page /ui'),
        uiTokenFile: secretFile('the token that signs in to the status page /ui (without one, the sync token does; without either, /ui is disabled)'),
      })
      .superRefine(secretPair('syncToken', false))
      .superRefine(secretPair('uiToken', false))
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
  })
  .superRefine(
    (config, ctx) => {
      // a misspelt source matches no group: every conversation of the rule would look gone. Told
      // beside every other problem, so read from what was given, checked or not
      const list = (v: unknown) => (Array.isArray(v) ? (v as unknown[]) : []);
      const names = new Set(list(config.sources).map((s) => (s as { name?: unknown } | null)?.name));
      const backend = config.backend as { type?: unknown; contacts?: { create?: unknown } } | undefined;
      if (
        backend?.type === 'protocol' &&
        backend.contacts?.create === true &&
        (config.identity as { phoneFrom?: unknown } | undefined)?.phoneFrom === undefined
      )
        ctx.addIssue({
          code: 'custom',
          path: ['identity', 'phoneFrom'],
          message: 'backend.contacts.create needs it: the API makes a contact only with a phone number',
        });
      // an entry that cannot be a user id of the backend protects nobody: told, not kept
      const uuid = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
      const userId = new RegExp(backend?.type === 'wire' ? `^${uuid}(@[A-Za-z0-9.-]+)?$` : `^${uuid}$`);
      if (backend?.type === 'wire' || backend?.type === 'mixin')
        list((config.guards as { protect?: unknown } | undefined)?.protect).forEach((p, i) => {
          if (typeof p === 'string' && !userId.test(p.trim()))
            ctx.addIssue({
              code: 'custom',
              path: ['guards', 'protect', i],
              message: `must be a ${backend.type === 'wire' ? 'Wire user id (uuid, or uuid@domain)' : 'Mixin user id (uuid)'}, not a handle or an e-mail: as given it protects nobody`,
            });
        });
      const actions = typeof backend?.type === 'string' ? REMOVED_GROUP_ACTIONS[backend.type as BackendConfig['type']] : undefined;
      list(config.mappings).forEach((m, i) => {
        // held back as `policy` at every run otherwise: told once, here
        const onRemoved = (m as { onGroupRemoved?: unknown } | null)?.onGroupRemoved;
        if (actions !== undefined && typeof onRemoved === 'string' && !actions.includes(onRemoved))
          ctx.addIssue({
            code: 'custom',
            path: ['mappings', i, 'onGroupRemoved'],
            message: `backend ${String(backend!.type)} cannot ${onRemoved} a conversation: must be one of ${actions.join(', ')}`,
          });
        const source = (m as { match?: { source?: unknown } } | null)?.match?.source;
        if (typeof source === 'string' && !names.has(source)) {
          const known = [...names].filter((n) => typeof n === 'string').join(', ');
          ctx.addIssue({ code: 'custom', path: ['mappings', i, 'match', 'source'], message: `no source is named "${source}": must be one of ${known}` });
        }
      });
    },
    { when: () => true },
  );

export type Config = z.infer<typeof ConfigSchema>;
