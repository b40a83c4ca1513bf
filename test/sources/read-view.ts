import { pino } from 'pino';
import { printGroups } from '../../src/reconcile/changed-groups.js';
import { fileSource } from '../../src/sources/file/index.js';
import type { DesiredGroup, Source } from '../../src/sources/types.js';
import { Store } from '../../src/store/store.js';

/** what a plan takes from a read: every group with its members, in order, and its print */
export function view(groups: readonly DesiredGroup[]) {
  const prints = printGroups(groups);
  return groups.map((g) => ({
    key: g.key,
    displayName: g.displayName,
    complete: g.complete,
    members: g.members.map((m) => [m.id, m.active, m.raw]),
    size: g.size ?? g.members.length,
    print: prints.get(g.key),
  }));
}

/**
 * A file source over `dir` that follows it file by file (its own store and clock), and the same
 * files read whole every time into a store of their own
 */
export function sourcesOver(dir: string, cleanup: (() => void)[]) {
  const store = Store.open(':memory:');
  const other = Store.open(':memory:');
  cleanup.push(
    () => store.close(),
    () => other.close(),
  );
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const logger = pino({ level: 'silent' });
  const source: Source = fileSource.create({ name: 'dir', type: 'file', path: dir }, { logger, store, now: () => clock });
  const whole: Source = fileSource.create({ name: 'dir', type: 'file', path: dir }, { logger, store: other });
  return {
    store,
    source,
    whole,
    tick: () => (clock += 60_000),
    /** whether the last read was whole (its time is the source's last whole read) */
    wasWhole: () => store.reads.state('dir')!.fullReadAt === new Date(clock).toISOString(),
  };
}
