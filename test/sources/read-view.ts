import { pino } from 'pino';
import { expect } from 'vitest';
import { printGroups } from '../../src/reconcile/changed-groups.js';
import { fileSource } from '../../src/sources/file/index.js';
import { printKeyOf, type PrintKey } from '../../src/sources/print.js';
import { cursorOf, type StoredCursor } from '../../src/sources/file/stored.js';
import type { DesiredGroup, Source } from '../../src/sources/types.js';
import type { Store } from '../../src/store/store.js';
import { storesSharingKey } from '../helpers/temp-db.js';

/** what a plan takes from a read: every group with its members, in order, and its print (under the key of the read's store) */
export function view(groups: readonly DesiredGroup[], key: PrintKey) {
  const prints = printGroups(groups, key);
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
 * The groups of a read into another store, without the prints that store's key gave them: printed
 * again under the key of the store they are compared with
 */
export function unprinted(groups: readonly DesiredGroup[]): DesiredGroup[] {
  return groups.map(({ membersPrint: _print, ...g }) => g);
}

/**
 * A file source over `dir` that follows it file by file (its own store and clock), and the same
 * files read whole every time into a store of their own
 */
export function sourcesOver(dir: string, cleanup: (() => void)[]) {
  const [store, other] = storesSharingKey(cleanup);
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const logger = pino({ level: 'silent' });
  const source: Source = fileSource.create({ name: 'dir', type: 'file', path: dir }, { logger, store, now: () => clock });
  const whole: Source = fileSource.create({ name: 'dir', type: 'file', path: dir }, { logger, store: other });
  return {
    store,
    /** the key of the prints of `store` */
    key: printKeyOf(store.prints.key()),
    /** the store of the source that reads whole */
    wholeStore: other,
    source,
    whole,
    tick: () => (clock += 60_000),
    /** whether the last read was whole (its time is the source's last whole read) */
    wasWhole: () => store.reads.state('dir')!.fullReadAt === new Date(clock).toISOString(),
  };
}

/**
 * Random changes, each read by a source that follows them and by a whole read beside it: the two
 * agree, prints, members and warnings, after every step; a read taken whole follows a change that
 * says it cannot be followed, and the stored rows are those a whole read stores. Returns how many
 * steps were followed.
 */
export async function followedOverChanges(t: ReturnType<typeof sourcesOver> & { write(): void; change(): string }, steps: number): Promise<number> {
  const signal = new AbortController().signal;
  let followed = 0;
  for (let step = 0; step < steps; step++) {
    const what = [t.change(), ...(step % 4 === 0 ? [t.change()] : [])];
    const at = `step ${step}: ${what.join(', ')}`;
    t.write();
    t.tick();
    const read = await t.source.fetch(signal, { partial: true });
    const expected = await t.whole.fetch(signal);
    // prints first: they must not need the members of groups the store answered for
    expect(printGroups(read.groups, t.key), at).toEqual(printGroups(unprinted(expected.groups), t.key));
    expect(view(read.groups, t.key), at).toEqual(view(unprinted(expected.groups), t.key));
    expect(read.warnings, at).toEqual(expected.warnings);
    // and the store holds what a whole read stores, row for row
    expect(t.store.reads.users('dir'), at).toEqual(t.wholeStore.reads.users('dir'));
    expect(t.store.reads.groups('dir'), at).toEqual(t.wholeStore.reads.groups('dir'));
    // with the cursor a whole read leaves, which tells the next read whose users changed
    expect(cursorIn(t.store), at).toEqual(cursorIn(t.wholeStore));
    if (t.wasWhole())
      expect(
        what.some((w) => w.endsWith('(whole)')),
        at,
      ).toBe(true);
    else followed++;
  }
  return followed;
}

/** the groups a read expanded (those it answered from the store have their members still to read) */
export function expandedIn(groups: readonly DesiredGroup[]): string[] {
  return groups.filter((g) => Object.getOwnPropertyDescriptor(g, 'members')!.get === undefined).map((g) => g.id);
}

/**
 * Reads again as a run planning what changed reads, after `write`, and checks the read against a
 * whole read and its store (rows and cursor); gives the read, the groups it expanded and those it
 * answered with who came and went
 */
export function rereadAfter(t: ReturnType<typeof sourcesOver>, write: () => void) {
  const signal = new AbortController().signal;
  return async () => {
    write();
    t.tick();
    const read = await t.source.fetch(signal, { partial: true });
    // before the members of the others are read below
    const fresh = expandedIn(read.groups).sort();
    const moved = read.groups.filter((g) => g.moved !== undefined);
    const whole = await t.whole.fetch(signal);
    // who came is listed now, who left is not
    for (const g of moved) {
      const now = new Set(whole.groups.find((w) => w.id === g.id)!.members.map((m) => m.id));
      expect(g.moved!.came.every((u) => now.has(u.id)) && g.moved!.left.every((u) => !now.has(u.id))).toBe(true);
    }
    expect(view(read.groups, t.key)).toEqual(view(unprinted(whole.groups), t.key));
    expect(read.warnings).toEqual(whole.warnings);
    expect(t.store.reads.users('dir')).toEqual(t.wholeStore.reads.users('dir'));
    expect(t.store.reads.groups('dir')).toEqual(t.wholeStore.reads.groups('dir'));
    expect(cursorIn(t.store)).toEqual(cursorIn(t.wholeStore));
    return { read, fresh, moved: moved.map((g) => g.id).sort() };
  };
}

/** the cursor a store keeps, but for the mark a read of what changed leaves when it wrote users */
export function cursorIn(store: Store): Omit<StoredCursor, 'followed'> | undefined {
  const cursor = cursorOf(store.reads.state('dir')?.cursor);
  if (cursor === undefined) return undefined;
  const { followed: _, ...rest } = cursor;
  return rest;
}
