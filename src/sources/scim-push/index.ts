import type { ScimPushSourceConfig } from '../../config/schema.js';
import { groupKey } from '../../group-key.js';
import type { PushUser } from '../../store/push.js';
import type { WholeSource } from '../../store/push-reads.js';
import type { Store } from '../../store/store.js';
import { expandGroups } from '../expand.js';
import type { FetchOptions, Source, SourceAdapter, SourceContext, SourceResult, SourceUser } from '../types.js';

// in pages, the event loop free between them: SCIM requests are answered during a run
const nextTurn = () => new Promise(setImmediate);

/**
 * Groups pushed by an IdP (Entra ID, Okta) to the daemon's SCIM service provider. The provider
 * (provider.ts, served on the daemon's routes in src/server/scim-push.ts) writes what arrives into
 * the store; this source reads it back, so it survives restarts and is the desired state of those
 * groups in every run. A run after a push reads only the groups it needs (FetchOptions.select).
 */
class ScimPushSource implements Source {
  readonly id: string;

  constructor(
    config: ScimPushSourceConfig,
    private readonly store: Store,
  ) {
    this.id = config.name;
  }

  async fetch(_signal: AbortSignal, opts?: FetchOptions): Promise<SourceResult> {
    const select = opts?.select;
    if (select === undefined) return this.resultOf(await this.store.push.readWhole(this.id, nextTurn));
    const pick = (heads: readonly { id: string; displayName: string }[]) => {
      const keys = select(heads.map((h) => ({ key: groupKey(this.id, h.id), source: this.id, id: h.id, displayName: h.displayName })));
      return new Set(heads.filter((h) => keys.has(groupKey(this.id, h.id))).map((h) => h.id));
    };
    const read = await this.store.push.readSelected(this.id, pick, nextTurn);
    return { ...this.resultOf(read, read.selected), selected: { listed: read.listed } };
  }

  /** the groups read, expanded; with `only`, just those (the rest were read because they nest in them) */
  private resultOf(read: WholeSource, only?: ReadonlySet<string>): SourceResult {
    const users = new Map(read.users.map((u) => [u.id, sourceUserOf(u)]));
    const flat = read.groups.map((g) => ({ id: g.id, displayName: g.displayName, members: read.members.get(g.id) ?? [] }));
    const expanded = expandGroups(this.id, flat, users);
    const groups = only ? expanded.groups.filter((g) => only.has(g.id)) : expanded.groups;
    const unknown = only ? expanded.unknown.filter(([g]) => only.has(g)) : expanded.unknown;
    const warnings = unknown.map(([g, m]) => `scim-push source ${this.id}: group ${g} lists unknown member ${m}`);
    return { source: this.id, groups, listingComplete: true, warnings };
  }
}

function sourceUserOf(u: PushUser): SourceUser {
  const r = u.resource as { displayName?: unknown; emails?: { value?: unknown; primary?: unknown }[] };
  const emails = (Array.isArray(r.emails) ? r.emails : [])
    .filter((e) => typeof e?.value === 'string')
    .sort((a, b) => Number(b.primary === true) - Number(a.primary === true))
    .map((e) => e.value as string);
  return {
    id: u.id,
    userName: u.userName,
    ...(u.externalId !== undefined ? { externalId: u.externalId } : {}),
    ...(typeof r.displayName === 'string' ? { displayName: r.displayName } : {}),
    emails,
    active: u.active,
    raw: u.resource,
  };
}

export const scimPushSource = {
  type: 'scim-push',
  create: (config: ScimPushSourceConfig, ctx: SourceContext) => new ScimPushSource(config, ctx.store),
} satisfies SourceAdapter<ScimPushSourceConfig>;
