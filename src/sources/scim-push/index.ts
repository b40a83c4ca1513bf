import type { ScimPushSourceConfig } from '../../config/schema.js';
import type { Store } from '../../store/store.js';
import { expandGroups } from '../expand.js';
import type { Source, SourceAdapter, SourceContext, SourceResult, SourceUser } from '../types.js';

/**
 * Groups pushed by an IdP (Entra ID, Okta) to the daemon's SCIM service provider. The provider
 * (provider.ts, served on the daemon's routes in src/server/scim-push.ts) writes what arrives into
 * the store; this source reads it back, so it survives restarts and is the desired state of those
 * groups in every run.
 */
class ScimPushSource implements Source {
  readonly id: string;

  constructor(
    config: ScimPushSourceConfig,
    private readonly store: Store,
  ) {
    this.id = config.name;
  }

  async fetch(): Promise<SourceResult> {
    const users = new Map<string, SourceUser>();
    // in pages, the event loop free between them: SCIM requests are answered during a run
    const whole = await this.store.push.readWhole(this.id, () => new Promise(setImmediate));
    for (const u of whole.users) {
      const r = u.resource as { displayName?: unknown; emails?: { value?: unknown; primary?: unknown }[] };
      const emails = (Array.isArray(r.emails) ? r.emails : [])
        .filter((e) => typeof e?.value === 'string')
        .sort((a, b) => Number(b.primary === true) - Number(a.primary === true))
        .map((e) => e.value as string);
      users.set(u.id, {
        id: u.id,
        userName: u.userName,
        ...(u.externalId !== undefined ? { externalId: u.externalId } : {}),
        ...(typeof r.displayName === 'string' ? { displayName: r.displayName } : {}),
        emails,
        active: u.active,
        raw: u.resource,
      });
    }
    const flat = whole.groups.map((g) => ({ id: g.id, displayName: g.displayName, members: whole.members.get(g.id) ?? [] }));
    const { groups, unknown } = expandGroups(this.id, flat, users);
    const warnings = unknown.map(([g, m]) => `scim-push source ${this.id}: group ${g} lists unknown member ${m}`);
    return { source: this.id, groups, listingComplete: true, warnings };
  }
}

export const scimPushSource = {
  type: 'scim-push',
  create: (config: ScimPushSourceConfig, ctx: SourceContext) => new ScimPushSource(config, ctx.store),
} satisfies SourceAdapter<ScimPushSourceConfig>;
