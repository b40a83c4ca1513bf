import * as z from 'zod';
import { nonEmpty, secret, secretFile, secretPair, url } from './parts.js';
import { HttpAuth } from './source-schemas.js';

/** What each `backend.type` takes. */

const WireBackendConfig = z
  .strictObject({
    type: z.literal('wire').describe('Wire, API v6–v15'),
    baseUrl: url.describe('e.g. https://prod-nginz-https.wire.com'),
    conversationType: z
      .enum(['group', 'channel'], { error: () => 'must be one of: group, channel' })
      .default('group')
      .describe('group: proteus team groups (Wire without MLS); channel: MLS team channels, managed by a team admin (Wire cloud, MLS teams)'),
    cookieFile: nonEmpty
      .optional()
      .describe("a team app's cookie (or a user's zuid cookie), instead of email/handle and password: convsync never logs in, it renews through /access"),
    email: z.email({ error: 'must be an e-mail address' }).optional().describe('the team member convsync logs in as (or handle)'),
    handle: nonEmpty.optional().describe('its handle, instead of email'),
    password: secret('its password'),
    passwordFile: secretFile('its password'),
    teamId: z.uuid({ error: 'must be a UUID' }).optional().describe('the team conversations are created in (default: the team of the logged-in user)'),
    label: nonEmpty
      .default('convsync')
      .describe(
        'cookie label of password logins; a new login revokes older cookies with the same label. Commands that only read (`explain`, `validate --check-backend`) log in as `<label>-read`, so they do not end the session of a daemon running beside them',
      ),
    maxConversationSize: z.int().min(2).default(500).describe("the backend's maxConvSize, convsync included (proteus groups; MLS channels have no such limit)"),
    apiVersions: z
      .strictObject({
        min: z.int().min(6).default(6).describe('lowest API version accepted'),
        max: z.int().max(16).default(15).describe('highest API version used (a development version only when set to one)'),
      })
      .refine((v) => v.min <= v.max, { message: 'min cannot be above max', path: ['min'] })
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
