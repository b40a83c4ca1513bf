import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { printGroups } from '../../src/reconcile/changed-groups.js';
import { followedOverChanges, sourcesOver, unprinted, view } from './read-view.js';
import { seededRandom } from '../../src/sandbox/random.js';
import { cursorOf } from '../../src/sources/file/stored.js';
import { fileSource } from '../../src/sources/file/index.js';
import type { DesiredGroup } from '../../src/sources/types.js';
import { cleanupAfterEach } from '../helpers/temp-db.js';

const cleanup = cleanupAfterEach();

const signal = new AbortController().signal;

interface User {
  id: string;
  externalId: string;
  active: boolean;
  title?: string;
}
interface Group {
  id: string;
  displayName: string;
  members: string[];
}

/** a directory of users in two files (or one) and groups in four, some nested, some listing ids nobody has */
function directory(seed: number, usersFiles: 1 | 2 = 2) {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-incremental-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const users: User[][] = usersFiles === 2 ? [[], []] : [[]];
  for (let i = 0; i < 40; i++) users[i % usersFiles]!.push({ id: `u${i}`, externalId: `x${i}`, active: random() < 0.9 });
  const files: Group[][] = [[], [], [], []];
  for (let i = 0; i < 16; i++) files[i % 4]!.push({ id: `g${i}`, displayName: `team-${i}`, members: [] });
  const allGroups = () => files.flat();
  const allUsers = () => users.flat();
  for (const g of allGroups()) {
    g.members = allUsers()
      .filter(() => random() < 0.25)
      .map((u) => u.id);
    if (random() < 0.3) g.members.push(pick(allGroups()).id);
  }
  allGroups()[3]!.members.push('nobody');
  const write = () => {
    // only files whose text changed are written: the others keep their stamps and are trusted unread
    const put = (name: string, value: unknown) => {
      const text = JSON.stringify(value);
      const path = join(dir, name);
      if (!existsSync(path) || readFileSync(path, 'utf8') !== text) writeFileSync(path, text);
    };
    users.forEach((us, i) => put(`users-${i}.json`, { users: us }));
    files.forEach((gs, i) => put(`groups-${i}.json`, { groups: gs }));
  };
  write();

  /** one random change; the ones marked `whole` cannot be followed file by file */
  let twice: { in: User[]; user: User } | undefined;
  const change = (): string => {
    // a user listed twice is listed once again by the next change, which the store then cannot follow: it kept nothing of that read
    if (!twice) return oneChange();
    twice.in.splice(twice.in.indexOf(twice.user), 1);
    twice = undefined;
    return `${oneChange()} and a user listed once again (whole)`;
  };
  const oneChange = (): string => {
    const g = pick(allGroups());
    switch (pick([0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10, 11, 12])) {
      case 0:
        g.members.push(pick(allUsers()).id);
        return 'member added';
      case 1:
        g.members.splice(Math.floor(random() * g.members.length), 1);
        return 'member removed';
      case 2:
        g.displayName = `team-${Math.floor(random() * 100)}`;
        return 'renamed';
      case 3:
        g.members.push(pick(allGroups()).id);
        return 'nested group added';
      case 4:
        g.members.push(`ghost${Math.floor(random() * 5)}`);
        return 'unknown member added';
      case 5: {
        const f = pick(files);
        if (f.length > 1) f.push(f.shift()!);
        return 'groups of a file reordered';
      }
      case 6: {
        const u = pick(allUsers());
        u.title = `t${Math.floor(random() * 3)}`;
        return 'user attribute';
      }
      case 9: {
        const id = `h${Math.floor(random() * 1e6)}`;
        pick(users).push({ id, externalId: `x-${id}`, active: true });
        g.members.push(id);
        return 'user hired';
      }
      case 10: {
        const from = pick(users);
        if (from.length > 0) from.splice(Math.floor(random() * from.length), 1);
        return 'user left (still listed by groups)';
      }
      case 11: {
        const [from, to] = random() < 0.5 ? [users[0]!, users.at(-1)!] : [users.at(-1)!, users[0]!];
        if (from.length > 0) to.splice(Math.floor(random() * (to.length + 1)), 0, ...from.splice(Math.floor(random() * from.length), 1));
        // a file of users emptied leaves one: read whole, to keep that one's users as bytes
        return usersFiles === 1
          ? 'user moved in its file'
          : from.length === 0
            ? 'the last user of a file moved to the other (whole)'
            : 'user moved to the other file';
      }
      case 12: {
        if (random() < 0.5) {
          const [from, to] = [users[0]!, users.at(-1)!];
          if (from.length > 0) twice = { in: to, user: { ...pick(from) } };
          if (twice) to.push(twice.user);
          return 'user listed twice (whole)';
        }
        for (const us of users) for (const u of us) u.title = `all${Math.floor(random() * 3)}`;
        return 'every user edited';
      }
      case 7: {
        const from = files.find((f) => f.includes(g))!;
        from.splice(from.indexOf(g), 1);
        pick(files).push(g);
        return 'group moved between files (whole)';
      }
      default: {
        const f = pick(files);
        f.push({ id: `n${Math.floor(random() * 1e6)}`, displayName: 'team-new', members: [pick(allUsers()).id] });
        return 'group added (whole)';
      }
    }
  };
  return { dir, files, write, change, ...sourcesOver(dir, cleanup) };
}

describe('a directory source read again after some files changed', () => {
  for (const [seed, usersFiles] of [
    [1, 2],
    [2, 2],
    [3, 2],
    [5, 1],
    [6, 1],
  ] as const) {
    it(`gives what a whole read gives, over random changes (seed ${seed}, users in ${usersFiles} file(s))`, async () => {
      const t = directory(seed, usersFiles);
      await t.source.fetch(signal, { partial: true });
      expect(t.wasWhole()).toBe(true);
      // one file of users is followed by its bytes, as a single JSON file's users are
      expect(cursorOf(t.store.reads.state('dir')?.cursor)?.usersFile !== undefined).toBe(usersFiles === 1);
      expect(t.store.reads.bytes.digest('dir') !== undefined).toBe(usersFiles === 1);
      const followed = await followedOverChanges(t, 60);
      expect(followed).toBeGreaterThan(20);
    });
  }

  it('answers the groups that did not change from the store, reads their members only when asked, and only while the store holds that read', async () => {
    const t = directory(4);
    await t.source.fetch(signal);
    const g = t.files[1]![0]!;
    // a group no other lists: it alone is expanded
    for (const other of t.files.flat()) other.members = other.members.filter((m) => m !== g.id);
    t.write();
    t.tick();
    await t.source.fetch(signal, { partial: true });
    g.members.push('u39');
    t.write();
    t.tick();
    const read = await t.source.fetch(signal, { partial: true });
    expect(t.wasWhole()).toBe(false);
    const unread = (gs: readonly DesiredGroup[]) => gs.filter((x) => Object.getOwnPropertyDescriptor(x, 'members')!.get !== undefined).map((x) => x.id);
    // the changed group too: it is answered with who came
    expect(unread(read.groups)).toEqual(read.groups.map((x) => x.id));
    expect(read.groups.find((x) => x.id === g.id)!.moved!.came.map((u) => u.id)).toEqual(['u39']);
    printGroups(read.groups, t.key);
    expect(unread(read.groups).length).toBe(read.groups.length);
    expect(read.groups.find((x) => x.id === g.id)!.members.map((m) => m.id)).toEqual(g.members);
    const whole = await t.whole.fetch(signal);
    const stub = read.groups.find((x) => x.id === t.files[2]![1]!.id)!;
    expect(stub.members.map((m) => m.id)).toEqual(whole.groups.find((x) => x.id === stub.id)!.members.map((m) => m.id));

    // a whole read of the same files, one of them touched, beside it (`convsync explain`) stores nothing new: the stubs still answer
    const touched = new Date(Date.now() + 60_000);
    utimesSync(join(t.dir, 'groups-0.json'), touched, touched);
    await fileSource.create({ name: 'dir', type: 'file', path: t.dir }, { logger: pino({ level: 'silent' }), store: t.store }).fetch(signal);
    const beside = read.groups.find((x) => x.id === t.files[0]![1]!.id)!;
    expect(beside.members.map((m) => m.id)).toEqual(whole.groups.find((x) => x.id === beside.id)!.members.map((m) => m.id));
    // the store moves on (another run read the changed files): a member list not read yet is not taken from the later read
    t.files[3]![0]!.members.push('u38');
    t.write();
    t.tick();
    await t.source.fetch(signal, { partial: true });
    const later = read.groups.find((x) => x.id === t.files[3]![0]!.id)!;
    expect(() => later.members).toThrow(/stored anew by another run/);
  });

  it('is read whole when what it keeps cannot follow it: a user whose attribute JSON cannot write, an id given twice, an id that is not well-formed Unicode', async () => {
    const t = directory(5);
    writeFileSync(join(t.dir, 'users-1.yaml'), 'users:\n  - { id: odd, externalId: x, score: .nan }\n');
    await t.source.fetch(signal);
    expect(t.store.reads.state('dir')!.cursor).toBeNull();
    t.files[0]![0]!.members.push('odd');
    t.write();
    t.tick();
    const read = await t.source.fetch(signal, { partial: true });
    expect(t.wasWhole()).toBe(true);
    expect(view(read.groups, t.key)).toEqual(view(unprinted((await t.whole.fetch(signal)).groups), t.key));

    rmSync(join(t.dir, 'users-1.yaml'));
    writeFileSync(join(t.dir, 'zz-extra.json'), JSON.stringify({ groups: [{ id: 'g0', displayName: 'team-twice', members: [] }] }));
    t.tick();
    await t.source.fetch(signal);
    expect(t.store.reads.state('dir')!.cursor).toBeNull();
    t.files[1]![0]!.members.push('u1');
    t.write();
    t.tick();
    const twice = await t.source.fetch(signal, { partial: true });
    expect(t.wasWhole()).toBe(true);
    expect(twice.groups.find((x) => x.id === 'g0')!.displayName).toBe('team-twice');

    // an id with a lone surrogate: SQLite would keep it as U+FFFD, where two such ids meet
    rmSync(join(t.dir, 'zz-extra.json'));
    writeFileSync(join(t.dir, 'users-1.json'), '{"users":[{"id":"u\\ud800","externalId":"x1"},{"id":"u\\ud801","externalId":"x2"}]}');
    t.files[2]![0]!.members.push('u\ud800');
    t.write();
    t.tick();
    await t.source.fetch(signal);
    expect(t.store.reads.state('dir')!.cursor).toBeNull();
    t.files[2]![0]!.members.push('u\ud801');
    t.write();
    t.tick();
    const odd = await t.source.fetch(signal, { partial: true });
    expect(t.wasWhole()).toBe(true);
    expect(view(odd.groups, t.key)).toEqual(view(unprinted((await t.whole.fetch(signal)).groups), t.key));
  });
});
