import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { cursorOf } from '../../src/sources/file/stored.js';
import { cleanupAfterEach } from '../helpers/temp-db.js';
import { rereadAfter, sourcesOver, unprinted, view } from './read-view.js';

const cleanup = cleanupAfterEach();
const signal = new AbortController().signal;

interface U {
  id: string;
  externalId?: string;
  active?: boolean;
  [k: string]: unknown;
}

/** a directory: 600 users in two files (or one), 30 groups of 10 in three files (group 29 nests group 0) */
function directory(usersFiles: 1 | 2 = 2) {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-dir-users-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const users: U[][] = usersFiles === 2 ? [[], []] : [[]];
  for (let i = 0; i < 600; i++) users[i % usersFiles]!.push({ id: `u${i}`, externalId: `x${i}`, active: true });
  const groups = Array.from({ length: 30 }, (_, i) => ({
    id: `g${i}`,
    displayName: `team-${i}`,
    members: Array.from({ length: 10 }, (_, k) => `u${(i * 7 + k) % 600}`),
  }));
  groups[29]!.members.push('g0');
  const write = () => {
    users.forEach((us, i) => writeFileSync(join(dir, `users-${i}.json`), JSON.stringify({ users: us })));
    for (let f = 0; f < 3; f++) writeFileSync(join(dir, `groups-${f}.json`), JSON.stringify({ groups: groups.slice(f * 10, f * 10 + 10) }));
  };
  write();
  const t = sourcesOver(dir, cleanup);
  const reread = rereadAfter(t, write);
  /** the groups that list one of these users, and those that nest one of those */
  const listing = (...ids: string[]) => {
    const out = new Set<string>();
    for (let grew = true; grew;) {
      grew = false;
      for (const g of groups) if (!out.has(g.id) && g.members.some((m) => ids.includes(m) || out.has(m))) grew = out.add(g.id) !== undefined;
    }
    return [...out].sort();
  };
  return { dir, users, groups, write, reread, listing, ...t };
}

describe('a directory whose users changed', () => {
  for (const usersFiles of [2, 1] as const) {
    it(`follows users edited, hired, gone and moved: only the groups that list them are read again (users in ${usersFiles} file(s))`, async () => {
      const t = directory(usersFiles);
      await t.source.fetch(signal);

      // an edit (with two files of users, the other is parsed too, unchanged)
      t.users.at(-1)![7 >> (usersFiles - 1)]!.active = false;
      let read = await t.reread();
      expect(t.wasWhole()).toBe(false);
      expect(read.fresh).toEqual(t.listing('u7'));

      // a hire placed in one group: its users file and its group's file changed; the group is answered with who came
      t.users[0]!.push({ id: 'new1', externalId: 'xn' });
      t.groups[12]!.members.push('new1');
      read = await t.reread();
      expect(t.wasWhole()).toBe(false);
      expect(read.fresh).toEqual([]);
      expect(read.moved).toEqual(t.listing('new1'));

      // a leaver still listed by their groups: an unknown member now, with its warning
      t.users[0] = t.users[0]!.filter((u) => u.id !== 'u0');
      read = await t.reread();
      expect(t.wasWhole()).toBe(false);
      expect(read.fresh).toEqual(t.listing('u0'));
      expect(read.read.warnings).toContain('file source dir: group g0 lists unknown member u0');

      // a user moved to the other file (or in its file), unchanged: nothing to expand, the cursor moves
      t.users.at(-1)!.unshift(t.users[0]!.pop()!);
      read = await t.reread();
      expect(t.wasWhole()).toBe(false);
      expect(read.fresh).toEqual([]);

      // 200 users edited, still followed
      for (const u of t.users.flat().slice(0, 200)) u.title = 'lead';
      read = await t.reread();
      expect(t.wasWhole()).toBe(false);
    });
  }

  it('is read whole when its users cannot be followed: more than 500 changed, a user in both files', async () => {
    const t = directory();
    await t.source.fetch(signal);
    for (const us of t.users) for (const u of us) u.title = 'everyone';
    await t.reread();
    expect(t.wasWhole()).toBe(true);

    t.users[1]!.push({ ...t.users[0]![5]! });
    await t.reread();
    expect(t.wasWhole()).toBe(true);
    // and once listed once again, the next change is read whole (the store kept nothing of that read), then followed
    t.users[1]!.pop();
    await t.reread();
    expect(t.wasWhole()).toBe(true);
    t.users[0]![9]!.title = 'new';
    await t.reread();
    expect(t.wasWhole()).toBe(false);
  });

  it('is read whole when a users file found unchanged changed before it was parsed', async () => {
    const t = directory();
    await t.source.fetch(signal);
    t.users[0]![4]!.title = 'edited';
    t.write();
    t.tick();
    // the run's check found users-1 unchanged; it changes before the read parses it
    expect(await t.source.changed!(signal)).toBe(true);
    writeFileSync(join(t.dir, 'users-1.json'), JSON.stringify({ users: [...t.users[1]!, { id: 'late', externalId: 'xl' }] }));
    const read = await t.source.fetch(signal, { partial: true });
    expect(t.wasWhole()).toBe(true);
    expect(view(read.groups, t.key)).toEqual(view(unprinted((await t.whole.fetch(signal)).groups), t.key));
  });

  it('keeps one file of users as bytes, and reads whole when the users move to or from that form', async () => {
    const t = directory(2);
    await t.source.fetch(signal);
    expect(cursorOf(t.store.reads.state('dir')?.cursor)?.usersFile).toBeUndefined();
    // the users of the second file moved to the first: one file of users now, read whole to keep it as bytes
    t.users[0]!.push(...t.users[1]!.splice(0));
    await t.reread();
    expect(t.wasWhole()).toBe(true);
    expect(cursorOf(t.store.reads.state('dir')?.cursor)?.usersFile).toBe(join(t.dir, 'users-0.json'));
    t.users[0]![11]!.title = 'followed';
    await t.reread();
    expect(t.wasWhole()).toBe(false);
    // a second file of users again: read whole
    t.users[1]!.push(t.users[0]!.shift()!);
    await t.reread();
    expect(t.wasWhole()).toBe(true);
    expect(cursorOf(t.store.reads.state('dir')?.cursor)?.usersFile).toBeUndefined();
  });

  it('with one file of users, reads whole when that file lists more than users, or the bytes kept are not those of the users stored', async () => {
    const t = directory(1);
    await t.source.fetch(signal);
    const file = join(t.dir, 'users-0.json');
    t.users[0]![3]!.title = 'x';
    t.write();
    writeFileSync(file, JSON.stringify({ groups: [], users: t.users[0] }));
    t.tick();
    let read = await t.source.fetch(signal, { partial: true });
    expect(t.wasWhole()).toBe(true);
    expect(view(read.groups, t.key)).toEqual(view(unprinted((await t.whole.fetch(signal)).groups), t.key));
    await t.reread();
    expect(t.wasWhole()).toBe(true);
    t.users[0]![4]!.title = 'y';
    await t.reread();
    expect(t.wasWhole()).toBe(false);
    t.store.reads.bytes.put('dir', undefined);
    t.users[0]![5]!.title = 'z';
    read = (await t.reread()).read;
    expect(t.wasWhole()).toBe(true);
  });

  it('reads whole when the users come to be in one file of users without it changing, or that file comes to list no one', async () => {
    const after = async (files: Record<string, object>, change: Record<string, object>) => {
      const dir = mkdtempSync(join(tmpdir(), 'convsync-dir-users-'));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const put = (fs: Record<string, object>) => {
        for (const [f, v] of Object.entries(fs)) writeFileSync(join(dir, f), JSON.stringify(v));
      };
      put({ ...files, 'c.json': { groups: [{ id: 'g1', displayName: 'G1', members: ['u1', 'u2'] }] } });
      const t = sourcesOver(dir, cleanup);
      await t.source.fetch(signal);
      const reread = rereadAfter(t, () => put(change));
      await reread();
      return { ...t, dir };
    };
    // the users of b.json gone: a.json, unchanged, is now the one file of users
    let t = await after({ 'a.json': { users: [{ id: 'u1' }] }, 'b.json': { users: [{ id: 'u2' }] } }, { 'b.json': { users: [] } });
    expect(t.wasWhole()).toBe(true);
    expect(cursorOf(t.store.reads.state('dir')?.cursor)?.usersFile).toBe(join(t.dir, 'a.json'));
    // the one file of users lists no one now
    t = await after({ 'a.json': { users: [{ id: 'u1' }, { id: 'u2' }] } }, { 'a.json': { users: [] } });
    expect(t.wasWhole()).toBe(true);
    expect(t.store.reads.bytes.digest('dir')).toBeUndefined();
  });

  for (const usersFiles of [2, 1] as const) {
    it(`has the next whole read compare every user after a read of what changed wrote users: a row it got wrong is repaired (users in ${usersFiles} file(s))`, async () => {
      const t = directory(usersFiles);
      await t.source.fetch(signal);
      t.users[0]![2]!.title = 'edited';
      await t.reread();
      expect(t.wasWhole()).toBe(false);
      expect(cursorOf(t.store.reads.state('dir')?.cursor)?.followed).toBe(true);
      // a user row such a read might have got wrong, the cursor as it left it
      const state = t.store.reads.state('dir')!;
      t.store.reads.apply(
        'dir',
        { groups: [], deletedGroups: [], users: [{ id: 'u8', data: '{"id":"u8","externalId":"someone-else"}' }], deletedUsers: ['u10'] },
        { at: state.readAt },
      );
      // a read of what changed that writes only groups keeps the mark
      t.groups[3]!.members.pop();
      t.write();
      t.tick();
      await t.source.fetch(signal, { partial: true });
      expect(t.wasWhole()).toBe(false);
      expect(cursorOf(t.store.reads.state('dir')?.cursor)?.followed).toBe(true);
      t.tick();
      await t.source.fetch(signal);
      await t.whole.fetch(signal);
      expect(t.wasWhole()).toBe(true);
      expect(t.store.reads.users('dir')).toEqual(t.wholeStore.reads.users('dir'));
      expect(cursorOf(t.store.reads.state('dir')?.cursor)?.followed).toBeUndefined();
      // a whole read after a whole read trusts the cursor: it compares no user
      const users = vi.spyOn(t.store.reads, 'users');
      t.tick();
      await t.source.fetch(signal);
      expect(users).not.toHaveBeenCalled();
    });
  }
});
