import * as z from 'zod';

/**
 * The `ldap` source's schema. It is built from the pieces schema.ts shares with every source (the
 * source name, the secret keys), passed in rather than imported, so the two files do not import
 * each other.
 */
export interface SchemaParts {
  sourceName: z.ZodString;
  secret: (what: string) => z.ZodOptional<z.ZodString>;
  secretFile: (what: string) => z.ZodOptional<z.ZodString>;
  secretPair: (key: string, required: boolean) => (value: Record<string, unknown>, ctx: z.RefinementCtx) => void;
  duration: z.ZodString;
}

const nonEmpty = z.string().min(1, 'must not be empty');
const ldapUrl = z
  .string()
  .regex(
    /^ldaps?:\/\/[^/?#\s@]+\/?$/i,
    'must be ldap://host[:port] or ldaps://host[:port] (no base DN, query or credentials in the URL: the password goes in passwordFile)',
  );
const dn = z.string().regex(/^[^=,]+=.+/, 'must be a distinguished name such as ou=groups,dc=example,dc=com');

/** balanced parentheses around the whole filter: a typo fails here, not at the first read */
const filter = z.string().superRefine((value, ctx) => {
  let depth = 0;
  let closedAt = -1;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\') i++;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0 && closedAt < 0) closedAt = i;
    if (depth < 0) break;
  }
  if (!value.startsWith('(') || depth !== 0 || closedAt !== value.length - 1) {
    ctx.addIssue({ code: 'custom', message: 'must be one LDAP filter in parentheses, e.g. (objectClass=groupOfNames) or (&(objectClass=group)(cn=team-*))' });
  }
});

const groupSearch = z
  .strictObject({
    baseDn: dn.describe('where groups are searched (subtree)'),
    filter: filter.default('(objectClass=groupOfNames)').describe('which entries are groups; Active Directory: (objectClass=group)'),
    idAttribute: nonEmpty.default('entryUUID').describe('stable id of a group (part of its key); Active Directory: objectGUID'),
    nameAttribute: nonEmpty.default('cn').describe("the group's name, matched by mappings"),
    memberAttribute: z
      .enum(['member', 'uniqueMember', 'memberUid'], { error: () => 'must be one of: member, uniqueMember, memberUid' })
      .default('member')
      .describe('member or uniqueMember (values are DNs, groups may nest), memberUid (values are uids)'),
  })
  .describe('the group search');

const userSearch = z
  .strictObject({
    baseDn: dn.describe('where users are searched (subtree)'),
    filter: filter.default('(objectClass=inetOrgPerson)').describe('which entries are users; Active Directory: (&(objectCategory=person)(objectClass=user))'),
    idAttribute: nonEmpty.default('entryUUID').describe('stable id of a user; Active Directory: objectGUID'),
    attributes: z
      .array(nonEmpty)
      .default([])
      .describe('further attributes read for each user; identity.from may name any of them (mail, uid and displayName are always read)'),
    disabledFilter: filter
      .optional()
      .describe(
        'users matching it are disabled and leave every conversation, e.g. (pwdAccountLockedTime=*) (Active Directory without it: userAccountControl bit 2)',
      ),
  })
  .describe('the user search');

export function ldapSourceSchema(parts: SchemaParts) {
  return z
    .strictObject({
      name: parts.sourceName,
      type: z.literal('ldap').describe('read groups from OpenLDAP or Active Directory'),
      url: z
        .union([ldapUrl, z.array(ldapUrl).min(1, 'give at least one URL')])
        .describe('ldap:// or ldaps:// URL of the directory; a list is tried in order (fail-over)'),
      startTls: z.boolean().default(false).describe('upgrade an ldap:// connection with StartTLS before binding'),
      tls: z
        .strictObject({
          caFile: nonEmpty
            .optional()
            .describe("PEM file of the CA that signed the directory's certificate (default: the system's CAs); the certificate is always verified"),
        })
        .prefault({})
        .describe('TLS of ldaps:// and StartTLS'),
      bindDn: dn.optional().describe('the DN convsync binds as (anonymous without it)'),
      password: parts.secret('the bind password'),
      passwordFile: parts.secretFile('the bind password'),
      pageSize: z.int().min(1).max(10_000).default(500).describe('entries per page (RFC 2696 paged results); Active Directory serves at most 1000'),
      timeoutMs: z.int().min(100).default(30_000).describe('per LDAP operation: a longer wait fails the read'),
      concurrency: z.int().min(1).max(32).default(4).describe('reads of single entries in flight at once (range retrieval, members outside the listings)'),
      groups: groupSearch,
      users: userSearch,
      expandNested: z.boolean().default(true).describe('members that are groups give their own members (cycle-safe), also groups outside groups.filter'),
      fullReadEvery: parts.duration
        .default('24h')
        .describe(
          'a full read this often (and on the first read, and whenever the server gives no usable cursor); between them only what changed is read: Active Directory by uSNChanged, other servers by modifyTimestamp (0s: always a full read)',
        ),
      modifyTimestampOverlap: parts.duration
        .default('10m')
        .describe(
          "an incremental read by modifyTimestamp asks for entries modified since the last read's start, less this much: more than a full read takes, and more than the directory's clock may be off convsync's",
        ),
      idPageSize: z
        .int()
        .min(1)
        .max(100_000)
        .default(10_000)
        .describe(
          "entries per page of the id-only listings an incremental read makes to see deletions; a server that refuses so large a page (OpenLDAP's size.pr) is asked again at pageSize",
        ),
    })
    .superRefine(parts.secretPair('password', false))
    .superRefine((v, ctx) => {
      const urls = Array.isArray(v.url) ? v.url : [v.url];
      const secret = v.password !== undefined || v.passwordFile !== undefined;
      if (v.bindDn === undefined && secret) ctx.addIssue({ code: 'custom', path: ['bindDn'], message: 'a password needs a bindDn' });
      if (v.bindDn !== undefined && !secret)
        ctx.addIssue({ code: 'custom', path: ['passwordFile'], message: 'password or passwordFile is required with bindDn' });
      if (v.startTls && urls.some((u) => /^ldaps:/i.test(u)))
        ctx.addIssue({ code: 'custom', path: ['startTls'], message: 'startTls is for ldap:// URLs; ldaps:// is TLS from the start' });
    });
}

export type LdapSourceConfig = z.infer<ReturnType<typeof ldapSourceSchema>>;
