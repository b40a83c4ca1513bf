import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { AuthError, describeError } from '../errors.js';
import { sourceOfGroup } from '../group-key.js';
import { distrustVanishedGroups, sizeOf, sourceShrink, type SourceSize } from '../plan/source-guard.js';
import type { DesiredGroup, Source } from '../sources/types.js';
import type { Store } from '../store/store.js';

export interface SourcesRead {
  groups: DesiredGroup[];
  warnings: string[];
  /** what could not be read: the run is degraded (exit 1) */
  readErrors: string[];
  /** sources whose absent groups are unknown, not gone (not read, read short, or distrusted) */
  incompleteSources: string[];
  /** guards that tripped on a source that shrank */
  tripped: string[];
  /** sizes of the sources read completely: the guards' next baseline */
  goodSizes: Map<string, SourceSize>;
  /** the versions the reads left, for the sources that tell (SourceResult.version) */
  versions: Map<string, number | null>;
}

/**
 * Every source read (a scoped run only those of its groups), and how far each can be trusted: a
 * failed or short read makes its absent groups unknown, a source that shrank past
 * `maxSourceShrink` or a group that came back empty is distrusted.
 */
export async function readSources(
  deps: { config: Config; store: Store; sources: Source[]; logger: Logger },
  opts: { allowRemovals: boolean; signal: AbortSignal; scope?: ReadonlySet<string>; partial?: boolean },
): Promise<SourcesRead> {
  const { allowRemovals, signal, scope, partial } = opts;
  const { config, store, logger } = deps;
  const warnings: string[] = [];
  const readErrors: string[] = [];
  const incompleteSources: string[] = [];
  let groups: DesiredGroup[] = [];
  const scopedSources = scope && new Set([...scope].map(sourceOfGroup));
  const toRead = scopedSources ? deps.sources.filter((s) => scopedSources.has(s.id)) : deps.sources;
  if (scopedSources) incompleteSources.push(...deps.sources.filter((s) => !scopedSources.has(s.id)).map((s) => s.id));
  const results = await Promise.allSettled(toRead.map((s) => s.fetch(signal, partial ? { partial } : undefined)));
  const tripped: string[] = [];
  const sizesBefore = store.guards.sourceSizes();
  const goodSizes = new Map<string, SourceSize>();
  const versions = new Map<string, number | null>();
  results.forEach((r, i) => {
    const source = toRead[i]!;
    if (r.status === 'rejected') {
      if (r.reason instanceof AuthError) throw r.reason;
      const msg = `source ${source.id} could not be read: ${describeError(r.reason)}`;
      logger.error({ source: source.id, err: describeError(r.reason) }, 'source failed; its groups are treated as unknown');
      readErrors.push(msg);
      warnings.push(msg);
      incompleteSources.push(source.id);
      return;
    }
    if (r.value.version !== undefined) versions.set(source.id, r.value.version);
    groups.push(...r.value.groups);
    warnings.push(...r.value.warnings);
    if (!r.value.listingComplete) {
      incompleteSources.push(source.id);
      readErrors.push(`source ${source.id}: the group listing was incomplete`);
      return;
    }
    const size = sizeOf(r.value.groups);
    const shrunk = sourceShrink(source.id, size, sizesBefore.get(source.id), config.guards.maxSourceShrink);
    if (shrunk && !allowRemovals) {
      // distrusted as a whole: its absent groups are not gone, and the run is quarantined
      tripped.push(shrunk);
      incompleteSources.push(source.id);
    } else if (r.value.groups.every((g) => g.complete)) goodSizes.set(source.id, size);
  });
  for (const g of groups) {
    if (g.complete) continue;
    const why = `${g.key}: ${g.unknownReason ?? 'membership unknown'}`;
    if (g.unknownIsReadError === false) warnings.push(`${why}; its removals are frozen`);
    else readErrors.push(why);
  }

  const distrusted = distrustVanishedGroups(groups, store.guards.groupSizes(), allowRemovals);
  groups = distrusted.groups;
  warnings.push(...distrusted.warnings);
  return { groups, warnings, readErrors, incompleteSources, tripped, goodSizes, versions };
}
