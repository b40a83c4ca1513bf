import { groupKey } from '../../group-key.js';
import type { SamlSourceConfig } from '../../config/schema.js';
import type { SamlLogin } from '../../store/saml.js';
import type { Store } from '../../store/store.js';
import { firstValue, loginEmail } from './subject.js';
import type { DesiredGroup, Source, SourceAdapter, SourceContext, SourceResult, SourceUser } from '../types.js';

/** The user a login shows, in the shape identity reads (`identity.from: email`, `externalId`, an attribute name). */
export function loginUser(login: Omit<SamlLogin, 'groupsSeenAt'>, config: SamlSourceConfig['users']): SourceUser {
  const email = loginEmail(login, config);
  const externalId = firstValue(login, config.externalIdAttribute);
  const displayName = firstValue(login, config.displayNameAttribute);
  const raw: Record<string, unknown> = { nameID: login.nameId, nameIDFormat: login.nameIdFormat };
  for (const [name, values] of Object.entries(login.attributes)) raw[name] = values.length === 1 ? values[0] : values;
  return {
    id: login.nameId,
    userName: login.nameId,
    externalId,
    displayName,
    emails: email !== undefined ? [email] : [],
    active: true,
    raw,
  };
}

/**
 * Groups as SAML logins showed them. The daemon's ACS route records each login in the store
 * (src/server/saml.ts); this source reads them back. A membership lasts `membershipTtlHours` after
 * the login that showed it, since SAML never says that someone left a group; an expired one is
 * gone, and its removal is planned and guarded like any other.
 */
class SamlSource implements Source {
  readonly id: string;

  constructor(
    private readonly config: SamlSourceConfig,
    private readonly store: Store,
    private readonly now: () => number,
  ) {
    this.id = config.name;
  }

  async fetch(): Promise<SourceResult> {
    const ttlMs = this.config.membershipTtlHours * 3_600_000;
    const now = this.now();
    const members = new Map<string, SourceUser[]>();
    const unknownOf = new Map<string, string[]>();
    const warnings: string[] = [];
    let expired = 0;
    for (const login of this.store.saml.logins(this.id)) {
      if (Date.parse(login.groupsSeenAt) + ttlMs <= now) {
        expired++;
        continue;
      }
      const user = loginUser(login, this.config.users);
      for (const g of login.groups) {
        let list = members.get(g);
        if (!list) members.set(g, (list = []));
        list.push(user);
        if (login.groupsUnknown) {
          let who = unknownOf.get(g);
          if (!who) unknownOf.set(g, (who = []));
          who.push(login.nameId);
        }
      }
      if (login.groupsUnknown && login.groups.length === 0) {
        warnings.push(`saml source ${this.id}: the groups of ${login.nameId} are unknown (overage claim) and no earlier login showed any`);
      }
    }
    if (expired > 0)
      warnings.push(
        `saml source ${this.id}: ${expired} user(s) had no login naming their groups within ${this.config.membershipTtlHours} h; their memberships expired`,
      );
    const groups = this.store.saml.groups(this.id).map((id): DesiredGroup => {
      const unknown = unknownOf.get(id);
      return {
        key: groupKey(this.id, id),
        source: this.id,
        id,
        displayName: id,
        members: members.get(id) ?? [],
        complete: unknown === undefined,
        ...(unknown
          ? {
              unknownReason: `the groups of ${unknown.join(', ')} are unknown (the last login had an overage claim instead of groups)`,
              unknownIsReadError: false,
            }
          : {}),
      };
    });
    // every group a login ever named is listed (SAML never says that a group is gone), so the
    // listing is complete: a group whose memberships all expired is listed empty, and guarded
    return { source: this.id, groups, listingComplete: true, warnings };
  }
}

export const samlSource = {
  type: 'saml',
  create: (config: SamlSourceConfig, ctx: SourceContext) => new SamlSource(config, ctx.store, ctx.now ?? Date.now),
} satisfies SourceAdapter<SamlSourceConfig>;
