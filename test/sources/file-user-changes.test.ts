import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/sandbox/random.js';
import { plainDirectory } from '../../src/sources/file/format.js';
import { spansOf } from '../../src/sources/file/spans.js';
import { changedUsers, keptUsers } from '../../src/sources/file/user-changes.js';
import { rereadAfter, sourcesOver, unprinted, view } from './read-view.js';
import { cleanupAfterEach } from '../helpers/temp-db.js';

const cleanup = cleanupAfterEach();
const signal = new AbortController().signal;

interface U {
  id: string;
  externalId?: string;
  active?: boolean | string;
  [k: string]: unknown;
}

/** one JSON file, its users one a line: 200 users, 40 groups of 10 (group 39 nests group 0) */
function directory() {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-users-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'directory.json');
  const users: U[] = Array.from({ length: 200 }, (_, i) => ({ id: `u${i}`, externalId: `x${i}`, active: true }));
  const groups = Array.from({ length: 40 }, (_, i) => ({
    id: `g${i}`,
    displayName: `team-${i}`,
    members: Array.from({ length: 10 }, (_, k) => `u${(i * 5 + k) % 200}`),
  }));
  groups[39]!.members.push('g0');
  const write = () => writeFileSync(file, `{"users": [\n${users.map((u) => JSON.stringify(u)).join(',\n')}\n],\n"groups": ${JSON.stringify(groups)}}`);
  write();
  const t = sourcesOver(file, cleanup);
  const reread = rereadAfter(t, write);
  return { file, users, groups, write, reread, ...t };
}

describe('a single JSON file whose users changed', () => {
  it('follows users edited, added and removed: only the groups that list them are read again', async () => {
    const t = directory();
    await t.source.fetch(signal);
    /** the groups that list one of these users, and those that nest one of those */
    const listing = (...ids: string[]) => {
      const out = new Set<string>();
      for (let grew = true; grew;) {
        grew = false;
        for (const g of t.groups) if (!out.has(g.id) && g.members.some((m) => ids.includes(m) || out.has(m))) grew = out.add(g.id) !== undefined;
      }
      return [...out].sort();
    };

    t.users[7]!.active = false;
    let read = await t.reread();
    expect(t.wasWhole()).toBe(false);
    expect(read.fresh).toEqual(listing('u7'));

    // a hire, in one group: that group is answered with who came, its other members not read
    t.users.push({ id: 'new1', externalId: 'xn' });
    t.groups[3]!.members.push('new1');
    read = await t.reread();
    expect(t.wasWhole()).toBe(false);
    expect(read.fresh).toEqual([]);
    expect(read.moved).toEqual(listing('new1'));
    expect(listing('new1')).toEqual(['g3']);

    // a leaver still listed by groups 0 and 39 (through group 0): an unknown member now
    t.users.splice(
      t.users.findIndex((u) => u.id === 'u2'),
      1,
    );
    read = await t.reread();
    expect(t.wasWhole()).toBe(false);
    expect(read.fresh).toEqual(listing('u2'));
    expect(listing('u2')).toEqual(['g0', 'g39']);
    expect(read.read.warnings.join('\n')).toMatch(/g0 lists unknown member u2/);

    // a user whose id a group listed as a group: the user is the member now, as in a whole read
    t.users.unshift({ id: 'g0', externalId: 'xg' });
    await t.reread();
    expect(t.wasWhole()).toBe(false);

    // the same users laid out anew, and several edits far apart in one change
    t.users[0]!.note = 'a "quoted" \\ note';
    t.users[150]!.externalId = 'changed';
    read = await t.reread();
    expect(t.wasWhole()).toBe(false);
    expect(read.fresh).toEqual(listing(t.users[0]!.id, t.users[150]!.id));
  });

  it('is read whole when the users cannot be told apart by their bytes, and still reads as a whole read does', async () => {
    const t = directory();
    await t.source.fetch(signal);
    // an id given twice: a whole read keeps no rows of it
    t.users.push({ id: 'u10', externalId: 'twice' });
    await t.reread();
    expect(t.wasWhole()).toBe(true);
    expect(t.store.reads.state('dir')!.cursor).toBeNull();
    t.users.pop();
    await t.reread();
    expect(t.wasWhole()).toBe(true);

    // too many users changed for a look at each
    for (const u of t.users) u.externalId = `${u.externalId}-2`;
    for (let i = 0; i < 400; i++) t.users.push({ id: `v${i}` });
    await t.reread();
    expect(t.wasWhole()).toBe(true);

    // the bytes the store kept are gone, or kept for other users than those it holds
    t.store.reads.bytes.put('dir', undefined);
    t.users[5]!.active = false;
    await t.reread();
    expect(t.wasWhole()).toBe(true);
    const kept = t.store.reads.bytes.get('dir')!;
    t.store.reads.bytes.put('dir', { ...kept, digest: 'other' });
    t.users[6]!.active = false;
    await t.reread();
    expect(t.wasWhole()).toBe(true);

    // a number JSON cannot write back (1e400 reads as Infinity): never followed
    t.users[8]!.n = 1;
    await t.reread();
    expect(t.wasWhole()).toBe(false);
    writeFileSync(t.file, readFileSync(t.file, 'utf8').replace('"n":1', '"n":1e400'));
    t.tick();
    const odd = await t.source.fetch(signal, { partial: true });
    expect(t.wasWhole()).toBe(true);
    expect(view(odd.groups, t.key)).toEqual(view(unprinted((await t.whole.fetch(signal)).groups), t.key));
  });

  it('fails with the file and what is wrong when a changed user does not check', async () => {
    const t = directory();
    await t.source.fetch(signal);
    t.users[9]!.active = 'yes';
    t.write();
    t.tick();
    await expect(t.source.fetch(signal, { partial: true })).rejects.toThrow(/directory\.json: users\[9\]\.active: /);
  });
});

describe('a single JSON file whose users were followed, read whole', () => {
  it('compares every user with the store, repairing a row a read of what changed got wrong', async () => {
    const t = directory();
    await t.source.fetch(signal);
    t.users[4]!.title = 'edited';
    await t.reread();
    expect(t.wasWhole()).toBe(false);
    const state = t.store.reads.state('dir')!;
    expect(state.cursor).toContain('"followed":true');
    t.store.reads.apply(
      'dir',
      { groups: [], deletedGroups: [], users: [{ id: 'u9', data: '{"id":"u9","externalId":"someone-else"}' }], deletedUsers: [] },
      { at: state.readAt },
    );
    t.tick();
    await t.source.fetch(signal);
    expect(t.wasWhole()).toBe(true);
    expect(t.store.reads.users('dir')).toEqual(t.wholeStore.reads.users('dir'));
    expect(t.store.reads.state('dir')!.cursor).not.toContain('followed');
  });
});

describe('the users that differ, told from the bytes kept', () => {
  it('are exactly those that differ, over random edits of a users list laid out in random ways', () => {
    const random = seededRandom(7);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    const odd = ['"', '\\', '{', '}', '[', ']', ',', 'é', '😀', ' '];
    const word = () => Array.from({ length: 1 + Math.floor(random() * 4) }, () => (random() < 0.3 ? pick(odd) : pick(['a', 'b', 'c']))).join('');
    let made = 0;
    /** a user; in a long list, ids are told apart by a number */
    const user = (long = false): U => ({
      id: long ? `${word()}#${made++}` : word(),
      ...(random() < 0.5 ? { externalId: word() } : {}),
      ...(random() < 0.3 ? { active: random() < 0.5 } : {}),
    });
    const space = () => pick(['', '', ' ', '\n', '\n  ', '\t']);
    const text = (users: { u: U; indent?: number }[]) =>
      `{"users":[${space()}${users.map(({ u, indent }) => JSON.stringify(u, null, indent)).join(`${space()},${space()}`)}${space()}],"groups":[]}`;
    const byId = (users: readonly U[]) => new Map(users.map((u) => [u.id, JSON.stringify(plainDirectory({ users: [u] })!.users[0])]));
    let followed = 0;
    let followedLong = 0;
    for (let round = 0; round < 3000; round++) {
      // one round in ten: a long list, changed in places far apart
      const long = round % 10 === 0;
      const before = Array.from({ length: long ? 300 + Math.floor(random() * 300) : Math.floor(random() * 12) }, () => ({
        u: user(long),
        ...(random() < 0.2 ? { indent: 1 } : {}),
      }));
      if (new Set(before.map((x) => x.u.id)).size !== before.length) continue;
      const after = before.map((x) => ({ ...x, u: { ...x.u } }));
      for (let k = 0; k < 1 + Math.floor(random() * (long ? 12 : 3)); k++) {
        const i = Math.floor(random() * (after.length + 1));
        const what = pick(['edit', 'add', 'remove', 'relayout', 'twice', 'move', ...(long ? (['block', 'alternate'] as const) : [])]);
        // a block of 40 users removed, added or edited at once, or every other user of 80 edited
        if (what === 'block') {
          const block = after.splice(i, 40);
          if (random() < 0.3) after.splice(i, 0, ...Array.from({ length: 40 }, () => ({ u: user(long) })));
          else if (random() < 0.5) after.splice(i, 0, ...block.map((x) => ({ u: { ...x.u, externalId: word() } })));
          continue;
        }
        if (what === 'alternate') {
          for (let k = i; k < Math.min(after.length, i + 80); k += 2) after[k]!.u = { ...after[k]!.u, active: !after[k]!.u.active };
          continue;
        }
        if (what === 'add') after.splice(i, 0, { u: user(long) });
        else if (i >= after.length) continue;
        else if (what === 'edit') after[i]!.u = { ...after[i]!.u, externalId: word() };
        else if (what === 'remove') after.splice(i, 1);
        else if (what === 'relayout') after[i]!.indent = after[i]!.indent === undefined ? 2 : undefined;
        else if (what === 'twice') after.splice(Math.floor(random() * after.length), 0, { u: { ...after[i]!.u } });
        else after.splice(Math.floor(random() * after.length), 0, ...after.splice(i, 1));
      }
      const was = Buffer.from(text(before));
      const now = Buffer.from(text(after));
      const s0 = spansOf(was)!;
      const s1 = spansOf(now)!;
      const found = changedUsers(keptUsers(was, s0.users, s0.userElements, 'd'), now, s1.users, s1.userElements);
      const at = `round ${round}: ${was.toString()} → ${now.toString()}`;
      const old = byId(before.map((x) => x.u));
      // what the caller refuses: an id new to these bytes that the store holds already; a file that lists a user twice is refused
      const refused = !found || found.added.some((id) => old.has(id));
      if (new Set(after.map((x) => x.u.id)).size < after.length) expect(refused, at).toBe(true);
      // a long list changed in a dozen places is followed
      else if (long) expect(refused, at).toBe(false);
      if (refused) continue;
      followed++;
      if (long) followedLong++;
      const applied = new Map(old);
      for (const id of found.gone) applied.delete(id);
      for (const u of found.put) applied.set(u.id, JSON.stringify(u));
      expect([...applied].sort(), at).toEqual([...byId(after.map((x) => x.u))].sort());
      // nothing put that did not change
      for (const u of found.put) expect(old.get(u.id), at).not.toBe(JSON.stringify(u));
    }
    expect(followed).toBeGreaterThan(1500);
    expect(followedLong).toBeGreaterThan(100);
  });
});
