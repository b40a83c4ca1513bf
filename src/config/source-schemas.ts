import * as z from 'zod';
import { ldapSourceSchema } from './ldap-schema.js';
import { duration, filePair, nonEmpty, regexString, secret, secretFile, secretPair, sourceName, url, urlPath } from './parts.js';

/** What each `sources[].type` takes. */

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
  maxAttempts: z
    .int()
    .min(1)
    .max(10)
    .default(3)
    .describe(
      'attempts per request on transient failures before the read counts as failed (a Retry-After over 5 minutes is not waited for: that read fails at once)',
    ),
  fullReadEvery: duration
    .default('24h')
    .describe(
      'a full crawl this often (and on the first read); between them, where the provider filters on meta.lastModified, only what changed is read (0s: always a full crawl)',
    ),
  lastModifiedOverlap: duration
    .default('5m')
    .describe('an incremental read asks for what changed since the last good read minus this much (clock skew between convsync and the provider)'),
});

const FileSource = z.strictObject({
  name: sourceName,
  type: z.literal('file').describe('groups from YAML/JSON files (users: and groups:), for GitOps'),
  path: nonEmpty.describe('a file, or a directory of *.yaml, *.yml and *.json files'),
});

const ScimPushSource = z
  .strictObject({
    name: sourceName,
    type: z.literal('scim-push').describe('the daemon is the SCIM service provider Entra ID or Okta pushes to'),
    path: urlPath.default('/scim/v2').describe('where the daemon serves it (the Tenant URL given to the IdP ends with this path)'),
    token: secret('the bearer token the IdP sends'),
    tokenFile: secretFile('the bearer token the IdP sends'),
  })
  .superRefine(secretPair('token', true));

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
  membershipTtlHours: z
    .number()
    .positive()
    .default(720)
    .describe('a membership learnt at a login expires this long after it unless a new login confirms it (SAML never says "removed")'),
  groups: z
    .strictObject({
      attribute: nonEmpty
        .default('groups')
        .describe('the attribute carrying the groups: groups, memberOf, http://schemas.microsoft.com/ws/2008/06/identity/claims/groups, …'),
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
      externalIdAttribute: nonEmpty.optional().describe('attribute read as externalId (identity.from: externalId), and what tells one person across logins'),
      displayNameAttribute: nonEmpty.optional().describe('attribute read as the display name'),
      attributes: z.array(nonEmpty).default([]).describe('further attributes recorded with the login (identity.from can read them by name)'),
    })
    .prefault({})
    .describe('what is recorded of the user'),
});

const LdapSource = ldapSourceSchema({ sourceName, secret, secretFile, secretPair, duration });

export const SourceConfig = z.discriminatedUnion('type', [ScimSource, FileSource, ScimPushSource, SamlSource, LdapSource], {
  error: () => 'type must be one of: scim, file, scim-push, saml, ldap',
});
export type SourceConfig = z.infer<typeof SourceConfig>;
export type ScimSourceConfig = z.infer<typeof ScimSource>;
export type FileSourceConfig = z.infer<typeof FileSource>;
export type ScimPushSourceConfig = z.infer<typeof ScimPushSource>;
export type SamlSourceConfig = z.infer<typeof SamlSource>;
export type { LdapSourceConfig } from './ldap-schema.js';
