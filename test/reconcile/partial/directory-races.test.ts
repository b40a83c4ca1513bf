import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { runOnce } from '../../../src/reconcile/run.js';
import { readStamped, stampsOf } from '../../../src/sources/file/fingerprint.js';
import { fileSource } from '../../../src/sources/file/index.js';
import { Store } from '../../../src/store/store.js';
import { harness, opsOf, type Harness } from './harness.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
const tick = () => new Promise((r) => setTimeout(r, 5));

async function directory(): Promise<Harness> {
  const t = await harness({}, 6, 'directory');
  cleanup.push(() => t.close());
  return t;
}

/** the stored stamp of one group's file made to name the file as it is now: its change goes unseen */
function missChange(t: Harness, group: string): void {
  const { store } = t.app;
  const dir = (t.app.config.sources[0] as { path: string }).path;
  const state = store.reads.state('dir')!;
  const stamps = stampsOf(state.fingerprint)!.map((s) => (s.file === join(dir, `group-${group}.json`) ? readStamped(s.file).stamp : s));
  store.reads.mark('dir', { at: state.readAt, fingerprint: JSON.stringify(stamps) }, { full: false, changed: false });
}

describe('a directory followed file by file, when what the store keeps could go stale', () => {
  it('a whole read stores a group again when its member ids changed though its members did not (a group now nesting the same people)', async () => {
    const t = await directory();
    t.groups.push({ id: 'b', displayName: 'team-b', members: ['u1', 'u2'] }, { id: 'c', displayName: 'misc-c', members: ['u1', 'u2'] });
    t.write();
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    t.groups[0]!.members = ['c'];
    t.write();
    missChange(t, 'b');
    // a whole read (a dry run) of the same stamps: the same members and print for b, another row
    await runOnce(t.app, { mode: 'plan' });
    t.groups[1]!.members.push('u3');
    t.write();
    await tick();
    const sync = await runOnce(t.app, { mode: 'sync' });
    // b nests c: both are planned, and both gain u3
    expect(opsOf(sync.plan.ops).length).toBe(1);
    expect(sync.plan.ops.map((o) => [o.op, o.key])).toEqual([['add', 'group:dir:b']]);
    expect(opsOf((await runOnce(t.app, { mode: 'plan' })).plan.ops)).toEqual([]);
  });

  it('a read of what changed that another process stored under meanwhile writes nothing of its own, and reads again from what that process stored', async () => {
    const t = await directory();
    t.groups.push({ id: 'a', displayName: 'team-a', members: ['u0'] }, { id: 'b', displayName: 'team-b', members: ['u1'] });
    t.write();
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    const config = t.app.config.sources[0] as { name: string; type: 'file'; path: string };

    // V1: a changes; another process (`convsync explain`, without the lease) reads V1 whole, its write held back
    t.groups[0]!.members.push('u2');
    t.write();
    await tick();
    const other = Store.open(t.app.config.store.path);
    cleanup.push(() => other.close());
    const held: (() => void)[] = [];
    const reads = Object.create(other.reads) as typeof other.reads;
    reads.writing = <T>(fn: () => T): T => {
      held.push(() => other.reads.writing(fn));
      return undefined as T;
    };
    await fileSource
      .create(config, { logger: pino({ level: 'silent' }), store: { reads, prints: other.prints } as unknown as Store })
      .fetch(new AbortController().signal);
    expect(held.length).toBe(1);

    // V2: b gains u3, synced
    t.groups[1]!.members.push('u3');
    t.write();
    await tick();
    expect((await runOnce(t.app, { mode: 'sync' })).plan.ops.map((o) => o.key).sort()).toEqual(['group:dir:a', 'group:dir:b']);
    // V3: a changes again; the other process's write commits while this sync reads what changed
    t.groups[0]!.members.push('u4');
    t.write();
    await tick();
    const own = t.app.store.reads;
    const someUsersParsed = own.someUsersParsed.bind(own);
    own.someUsersParsed = (source: string, ids: readonly string[]) => {
      for (const write of held.splice(0)) write();
      return someUsersParsed(source, ids);
    };
    const before = own.state('dir')!.fullReadAt;
    const s2 = await runOnce(t.app, { mode: 'sync' });
    own.someUsersParsed = someUsersParsed;
    // the other process's write committed in the middle of the read
    expect(held).toEqual([]);
    expect(s2.exitCode).toBe(0);
    // the other process's whole read is what the store holds now (its time), and this run's read of what changed was made again from it
    expect(own.state('dir')!.fullReadAt).not.toBe(before);
    // V4: only a changes; b, untouched since V2, keeps u3
    t.groups[0]!.members.push('u5');
    t.write();
    await tick();
    const s3 = await runOnce(t.app, { mode: 'sync' });
    expect(opsOf(s3.plan.ops).some((o) => o.includes('"remove"'))).toBe(false);
    expect(opsOf((await runOnce(t.app, { mode: 'plan' })).plan.ops)).toEqual([]);
  });

  it('a write by another process elsewhere in the store during a read of what changed costs a second try, not a whole read', async () => {
    const t = await directory();
    t.groups.push({ id: 'a', displayName: 'team-a', members: ['u0'] });
    t.write();
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    const other = Store.open(t.app.config.store.path);
    cleanup.push(() => other.close());
    t.groups[0]!.members.push('u2');
    t.write();
    await tick();
    const own = t.app.store.reads;
    const someUsersParsed = own.someUsersParsed.bind(own);
    let once = true;
    own.someUsersParsed = (source: string, ids: readonly string[]) => {
      if (once) other.reads.mark('another-source', { at: new Date().toISOString(), cursor: 'x' }, { full: false, changed: true });
      once = false;
      return someUsersParsed(source, ids);
    };
    const before = own.state('dir')!.fullReadAt;
    const sync = await runOnce(t.app, { mode: 'sync' });
    own.someUsersParsed = someUsersParsed;
    // the write came in the middle of the read
    expect(once).toBe(false);
    expect(sync.plan.ops.map((o) => o.key)).toEqual(['group:dir:a']);
    expect(own.state('dir')!.fullReadAt).toBe(before);
  });

  it('a run during which another process stored a newer read of the directory does not stamp it as planned: the next run plans it', async () => {
    const t = await directory();
    t.groups.push({ id: 'a', displayName: 'team-a', members: ['u0'] }, { id: 'b', displayName: 'team-b', members: ['u1'] });
    t.write();
    expect((await runOnce(t.app, { mode: 'sync' })).exitCode).toBe(0);
    const config = t.app.config.sources[0] as { name: string; type: 'file'; path: string };
    const other = Store.open(t.app.config.store.path);
    cleanup.push(() => other.close());
    t.groups[0]!.members.push('u2');
    t.write();
    await tick();
    // while the sync applies a's change, b changes and another process (`convsync plan`) reads and stores it
    const finish = t.app.store.runs.finish.bind(t.app.store.runs);
    let once = true;
    t.app.store.runs.finish = ((id: number, r: never) => {
      if (once) {
        t.groups[1]!.members.push('u3');
        t.write();
        void fileSource.create(config, { logger: pino({ level: 'silent' }), store: other }).fetch(new AbortController().signal);
      }
      once = false;
      return finish(id, r);
    }) as typeof finish;
    const first = await runOnce(t.app, { mode: 'sync' });
    t.app.store.runs.finish = finish;
    expect(first.plan.ops.map((o) => o.key)).toEqual(['group:dir:a']);
    await tick();
    const next = await runOnce(t.app, { mode: 'sync' });
    expect(next.plan.ops.map((o) => o.key)).toEqual(['group:dir:b']);
    expect(opsOf((await runOnce(t.app, { mode: 'plan' })).plan.ops)).toEqual([]);
  });
});
