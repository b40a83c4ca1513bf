import type { Logger } from 'pino';
import type { ScimSourceConfig } from '../../config/schema.js';
import { AuthError, describeError } from '../../errors.js';
import { runPool } from '../../pool.js';
import type { DesiredGroup, SourceUser } from '../types.js';
import type { ScimClient } from './client.js';
import { MemberResolver, readGroup } from './members.js';
import type { ScimGroup } from './parse.js';

/** what one read of a SCIM source works with */
export interface ScimContext {
  source: string;
  client: ScimClient;
  config: ScimSourceConfig;
  log: Logger;
  signal: AbortSignal;
  warnings: string[];
}

/** what reading groups' members found */
export interface MemberReads {
  /** group id → why its members are unknown */
  failures: Map<string, string>;
  /** listed, then 404 when read */
  vanished: Set<string>;
}

/** the provider's filter.maxResults, from /ServiceProviderConfig, and whether it filters at all */
export async function serviceProviderConfig(ctx: ScimContext): Promise<{ maxResults: number; filtering: boolean | undefined }> {
  try {
    const spc = (await ctx.client.get('/ServiceProviderConfig', {}, ctx.signal)) as { filter?: { maxResults?: unknown; supported?: unknown } } | undefined;
    const max = spc?.filter?.maxResults;
    const supported = spc?.filter?.supported;
    return { maxResults: typeof max === 'number' && max > 0 ? max : Infinity, filtering: typeof supported === 'boolean' ? supported : undefined };
  } catch (e) {
    if (e instanceof AuthError) throw e;
    ctx.warnings.push(`source ${ctx.source}: ServiceProviderConfig unreadable (${describeError(e)}); using the configured page sizes`);
    return { maxResults: Infinity, filtering: undefined };
  }
}

/** members of each group, read one group at a time (listings exclude them) */
export async function readMembers(ctx: ScimContext, groups: Iterable<ScimGroup>): Promise<MemberReads> {
  const reads: MemberReads = { failures: new Map(), vanished: new Set() };
  await runPool([...groups], ctx.config.concurrency, async (g) => {
    try {
      const full = await readGroup(ctx.client, ctx.source, g.id, ctx.signal, ctx.warnings);
      if (!full) reads.vanished.add(g.id);
      // a provider that leaves members out (some do for large groups) cannot be told from an empty group: not taken as one
      else if (full.members === undefined) reads.failures.set(g.id, 'its answer came without its members attribute');
      else {
        g.displayName = full.displayName;
        g.members = full.members;
        if (full.lastModified !== undefined) g.lastModified = full.lastModified;
      }
    } catch (e) {
      if (e instanceof AuthError) throw e;
      reads.failures.set(g.id, `its members could not be read (${describeError(e)})`);
    }
  });
  return reads;
}

/**
 * The listed groups as desired groups, in id order: users resolved and nested groups expanded;
 * a group whose members could not be read is unknown. `nested` holds groups known from an earlier
 * read that are members of listed groups without being listed themselves.
 */
export async function desiredGroups(
  ctx: ScimContext,
  listed: ReadonlyMap<string, ScimGroup>,
  users: Map<string, SourceUser>,
  reads: MemberReads,
  nested?: ReadonlyMap<string, ScimGroup>,
): Promise<{ groups: DesiredGroup[]; resolver: MemberResolver }> {
  const resolver = new MemberResolver(
    {
      source: ctx.source,
      client: ctx.client,
      expandNested: ctx.config.expandNested,
      groups: listed,
      vanished: reads.vanished,
      users,
      warnings: ctx.warnings,
      signal: ctx.signal,
    },
    nested,
  );
  const out: DesiredGroup[] = [];
  for (const g of [...listed.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const failure = reads.failures.get(g.id);
    if (failure)
      out.push({
        key: `${ctx.source}:${g.id}`,
        source: ctx.source,
        id: g.id,
        displayName: g.displayName,
        members: [],
        complete: false,
        unknownReason: failure,
      });
    else out.push(await resolver.desiredGroup(g));
  }
  return { groups: out, resolver };
}

export function report(ctx: ScimContext, problems: string[]): void {
  for (const p of problems) ctx.log.warn(p);
  ctx.warnings.push(...problems);
}
