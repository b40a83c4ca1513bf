import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { seededRandom } from '../../src/sandbox/random.js';
import { streamedChanges } from '../../src/sources/file/span-changes.js';
import type { DesiredGroup } from '../../src/sources/types.js';
import { followedOverChanges, sourcesOver, unprinted, view } from './read-view.js';
import { cleanupAfterEach } from '../helpers/temp-db.js';

// the same function, watched: a change of groups only is read in pieces
vi.mock('../../src/sources/file/span-changes.js', async (original) => {
  const actual = await original<typeof import('../../src/sources/file/span-changes.js')>();
  return { ...actual, streamedChanges: vi.fn(actual.streamedChanges) };
});

const cleanup = cleanupAfterEach();
const signal = new AbortController().signal;

interface G {
  id: string;
  displayName: string;
  members: string[];
  /** how this group is laid out in the file */
  indent?: number;
}

/** one JSON file of users and groups, some nested or listing ids nobody has, each group laid out its own way */
function singleFile(seed: number) {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-single-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'directory.json');
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const users = Array.from({ length: 30 }, (_, i) => ({ id: `u${i}`, externalId: `x${i}`, active: random() < 0.9, note: i % 7 ? 'a "quoted" {note}' : '\\' }));
  const groups: G[] = Array.from({ length: 20 }, (_, i) => ({ id: i === 4 ? 'u3' : `g${i}`, displayName: `team-${i}`, members: [] }));
  const ids = () => [...users.map((u) => u.id), ...groups.map((g) => g.id), 'ghost1'];
  for (const g of groups) for (let k = 0; k < 5; k++) g.members.push(pick(ids()));
  let usersFirst = true;
  let usersIndent: number | undefined;
  const write = () => {
    const usersText = JSON.stringify(users, null, usersIndent);
    const groupsText = `[\n${groups.map(({ indent, ...g }) => JSON.stringify(g, null, indent)).join(',\n')}\n]`;
    const text = usersFirst ? `{"users":${usersText},\n"groups": ${groupsText}}\n` : `{ "groups" : ${groupsText}, "users":${usersText} }`;
    if (readFileSafe(file) !== text) writeFileSync(file, text);
  };
  write();
  /** one random change; the ones marked `whole` cannot be followed group by group */
  const change = (): string => {
    const g = pick(groups);
    switch (pick([0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10, 11, 12, 13])) {
      case 0:
        g.members.push(pick(ids()));
        return `member added to ${g.id}`;
      case 1:
        g.members.splice(Math.floor(random() * g.members.length), 1);
        return `member removed from ${g.id}`;
      case 2:
        g.displayName = `team-${Math.floor(random() * 30)} "x"`;
        return `${g.id} renamed`;
      case 3:
        g.indent = g.indent === undefined ? 2 : undefined;
        return `${g.id} laid out anew`;
      case 4:
        usersFirst = !usersFirst;
        return 'users and groups swapped';
      case 5:
        g.members.push(g.id);
        return `${g.id} lists itself`;
      case 6:
        pick(users).active = random() < 0.5;
        return 'user edited';
      case 7:
        groups.push(groups.shift()!);
        return 'groups reordered (whole)';
      case 8:
        groups.push({ id: `n${Math.floor(random() * 1e6)}`, displayName: 'team-new', members: [pick(users).id] });
        return 'group added (whole)';
      case 9:
        if (groups.length > 10) groups.splice(groups.indexOf(g), 1);
        return 'group removed (whole)';
      case 11:
        if (users.length > 20) users.splice(Math.floor(random() * users.length), 1);
        return 'user removed';
      case 12:
        users.push({ id: `v${Math.floor(random() * 1e6)}`, externalId: 'x', active: true, note: 'new' });
        g.members.push(users.at(-1)!.id);
        return 'user added';
      case 13:
        usersIndent = usersIndent === undefined ? 1 : undefined;
        return 'users laid out anew';
      default:
        g.members.reverse();
        return `${g.id} members reversed`;
    }
  };
  return { file, groups, write, change, ...sourcesOver(file, cleanup) };
}

function readFileSafe(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

describe('a single JSON file read again after some of its groups changed', () => {
  for (const seed of [1, 2, 3]) {
    it(`gives what a whole read gives, over random changes (seed ${seed})`, async () => {
      const t = singleFile(seed);
      await t.source.fetch(signal);
      expect(t.store.reads.state('dir')!.cursor).not.toBeNull();
      const followed = await followedOverChanges(t, 60);
      expect(followed).toBeGreaterThan(20);
    });
  }

  it('parses only the groups whose bytes changed, and answers the others from the store', async () => {
    const t = singleFile(4);
    await t.source.fetch(signal);
    const g = t.groups[7]!;
    // a group few others list (none, after this)
    for (const other of t.groups.slice(10)) other.members = other.members.filter((m) => m !== g.id);
    t.write();
    t.tick();
    await t.source.fetch(signal, { partial: true });
    g.members.push('u29');
    t.write();
    t.tick();
    vi.mocked(streamedChanges).mockClear();
    const read = await t.source.fetch(signal, { partial: true });
    expect(t.wasWhole()).toBe(false);
    expect([...vi.mocked(streamedChanges).mock.results[0]!.value.changed.groups.keys()]).toEqual([g.id]);
    const unread = (gs: readonly DesiredGroup[]) => gs.filter((x) => Object.getOwnPropertyDescriptor(x, 'members')!.get !== undefined).map((x) => x.id);
    // the changed group, and those that list it or list one of those, are read; every other is a stub
    const parents = new Set([g.id]);
    for (let grew = true; grew;) {
      grew = false;
      for (const x of t.groups) if (!parents.has(x.id) && x.members.some((m) => parents.has(m))) grew = parents.add(x.id) !== undefined;
    }
    expect(parents.size).toBeLessThan(t.groups.length / 2);
    expect(unread(read.groups).sort()).toEqual(
      t.groups
        .map((x) => x.id)
        .filter((id) => !parents.has(id))
        .sort(),
    );
  });

  it('is read whole when it is not laid out plainly, and says what is wrong when it does not parse', async () => {
    const t = singleFile(5);
    await t.source.fetch(signal);
    // another key beside users and groups: the schema refuses it, whoever reads
    const text = readFileSync(t.file, 'utf8');
    writeFileSync(t.file, text.replace(/}\s*$/, ', "extra": 1}'));
    t.tick();
    await expect(t.source.fetch(signal, { partial: true })).rejects.toThrow(/directory\.json: .*extra/);
    // one group broken: the run fails with the file's path, as a whole read does
    writeFileSync(t.file, text.replace('"team-3"', '"team-3" oops'));
    t.tick();
    await expect(t.source.fetch(signal, { partial: true })).rejects.toThrow(/directory\.json: .*JSON/);
    // a group that holds what only the schema can judge (a member that is a number)
    writeFileSync(t.file, text.replace('"team-3",', '"team-3", "members": [1],').replace(/("team-3", "members": \[1\],)"members":\[[^\]]*\]/, '$1'));
    t.tick();
    await expect(t.source.fetch(signal, { partial: true })).rejects.toThrow(/directory\.json: /);
    writeFileSync(t.file, text);
    t.tick();
    const back = await t.source.fetch(signal, { partial: true });
    expect(view(back.groups, t.key)).toEqual(view(unprinted((await t.whole.fetch(signal)).groups), t.key));
    // a user attribute JSON reads as Infinity, which the store would keep as null: never followed
    writeFileSync(t.file, text.replace('"externalId":"x1",', '"externalId":"x1","n":1e400,'));
    t.tick();
    await t.source.fetch(signal);
    expect(t.store.reads.state('dir')!.cursor).toBeNull();
    writeFileSync(t.file, text.replace('"externalId":"x1",', '"externalId":"x1","n":1e400,').replace('"team-3"', '"team-3b"'));
    t.tick();
    const odd = await t.source.fetch(signal, { partial: true });
    expect(t.wasWhole()).toBe(true);
    expect(view(odd.groups, t.key)).toEqual(view(unprinted((await t.whole.fetch(signal)).groups), t.key));
  });
});
