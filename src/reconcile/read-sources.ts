import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { AuthError, describeError } from '../errors.js';
import { sourceOfGroup } from '../group-key.js';
import { distrustVanishedGroups, memberCount, sizeOf, sourceShrink, type SourceSize } from '../plan/source-guard.js';
import type { DesiredGroup, FetchOptions, Source } from '../sources/types.js';
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
  opts: { allowRemovals: boolean; signal: AbortSignal; scope?: ReadonlySet<string>; partial?: boolean; select?: FetchOptions['select'] },
): Promise<SourcesRead> {
  const { allowRemovals, signal, scope, partial, select } = opts;
  const { config, store, logger } = deps;
  const warnings: string[] = [];
  const readErrors: string[] = [];
  const incompleteSources: string[] = [];
  let groups: DesiredGroup[] = [];
  const scopedSources = scope && new Set([...scope].map(sourceOfGroup));
  const toRead = scopedSources ? deps.sources.filter((s) => scopedSources.has(s.id)) : deps.sources;
  if (scopedSources) incompleteSources.push(...deps.sources.filter((s) => !scopedSources.has(s.id)).map((s) => s.id));
  // the conversations a group feeds depend on every group's name: one source selects as it lists,
  // several are read and their groups selected together once all are in
  const fetchOpts = partial ? { partial } : toRead.length === 1 && select ? { select } : undefined;
  const results = await Promise.allSettled(toRead.map((s) => s.fetch(signal, fetchOpts)));
  const tripped: string[] = [];
  const selectedBySource = new Set<string>();
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
    if (r.value.selected) selectedBySource.add(source.id);
    warnings.push(...r.value.warnings);
    if (!r.value.listingComplete) {
      incompleteSources.push(source.id);
      readErrors.push(`source ${source.id}: the group listing was incomplete`);
      return;
    }
    // a read of some groups knows how many the source lists, not how many memberships
    const size = r.value.selected ? { groups: r.value.selected.listed } : sizeOf(r.value.groups);
    const shrunk = sourceShrink(source.id, size, sizesBefore.get(source.id), config.guards.maxSourceShrink);
    if (shrunk && !allowRemovals) {
      // distrusted as a whole: its absent groups are not gone, and the run is quarantined
      tripped.push(shrunk);
      incompleteSources.push(source.id);
    } else if (!r.value.selected && r.value.groups.every((g) => g.complete)) goodSizes.set(source.id, sizeOf(r.value.groups));
  });
  if (select) groups = selectedGroups(groups, selectedBySource, select);
  for (const g of groups) {
    if (g.complete) continue;
    const why = `${g.key}: ${g.unknownReason ?? 'membership unknown'}`;
    if (g.unknownIsReadError === false) warnings.push(`${why}; its removals are frozen`);
    else readErrors.push(why);
  }

  // only a group read empty can have vanished: the counts of the others are not read
  const empty = groups.filter((g) => g.complete && memberCount(g) === 0).map((g) => g.key);
  const distrusted = distrustVanishedGroups(groups, empty.length === 0 ? new Map() : store.guards.groupSizes(empty), allowRemovals);
  groups = distrusted.groups;
  warnings.push(...distrusted.warnings);
  return { groups, warnings, readErrors, incompleteSources, tripped, goodSizes, versions };
}

/** the groups a scoped run needs: those the sources selected, and of the others' (read whole) those `select` picks */
function selectedGroups(groups: DesiredGroup[], selectedBySource: ReadonlySet<string>, select: NonNullable<FetchOptions['select']>): DesiredGroup[] {
  const keys = select(groups.filter((g) => !selectedBySource.has(g.source)));
  return groups.filter((g) => selectedBySource.has(g.source) || keys.has(g.key));
}
