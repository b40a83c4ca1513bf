import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { printGroups } from '../../src/reconcile/changed-groups.js';
import { sourcesOver, unprinted, view } from './read-view.js';
import { seededRandom } from '../../src/sandbox/random.js';
import { cleanupAfterEach } from '../helpers/temp-db.js';

const cleanup = cleanupAfterEach();
const signal = new AbortController().signal;

interface G {
  id: string;
  displayName: string;
  members: string[];
}
function setup(seed: number) {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-incremental-odd-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  // users in a yaml and a json file, one file with only users, one empty file
  const users = [
    Array.from({ length: 8 }, (_, i) => ({ id: `u${i}`, active: true })),
    Array.from({ length: 8 }, (_, i) => ({ id: `u${i + 8}`, active: i % 3 !== 0 })),
  ];
  // a group whose id is a user's id (u3), self-nesting, cycles
  const files: G[][] = [[], [], [], []];
  for (let i = 0; i < 12; i++) files[i % 4]!.push({ id: i === 5 ? 'u3' : `g${i}`, displayName: `team-${i}`, members: [] });
  const allGroups = () => files.flat();
  const ids = () => [...users.flat().map((u) => u.id), ...allGroups().map((g) => g.id), 'ghost1', 'ghost2'];
  for (const g of allGroups()) for (let k = 0; k < 4; k++) g.members.push(pick(ids()));
  const write = () => {
    const put = (name: string, text: string) => {
      const p = join(dir, name);
      if (!existsSync(p) || readFileSync(p, 'utf8') !== text) writeFileSync(p, text);
    };
    put('a-users.yaml', toYaml({ users: users[0] }));
    put('b-users.json', JSON.stringify({ users: users[1] }));
    put('c-empty.yaml', '');
    files.forEach((gs, i) => (i % 2 ? put(`g${i}.json`, JSON.stringify({ groups: gs })) : put(`g${i}.yaml`, toYaml({ groups: gs }))));
  };
  write();
  const change = (): string => {
    const g = pick(allGroups());
    switch (pick([0, 0, 1, 1, 2, 3, 4, 5, 6, 7])) {
      case 0:
        g.members.push(pick(ids()));
        return `add ${g.id}`;
      case 1:
        g.members.splice(Math.floor(random() * g.members.length), 1);
        return `rm ${g.id}`;
      case 2:
        g.members = [];
        return `empty ${g.id}`;
      case 3:
        g.members.push(g.id);
        return `self ${g.id}`;
      case 4:
        g.members.reverse();
        return `reverse ${g.id}`;
      case 5: {
        const f = pick(files);
        if (f.length > 1) f.push(f.shift()!);
        return 'reorder';
      }
      case 6:
        g.members.push(g.members[0] ?? 'u0');
        return `dup ${g.id}`;
      default:
        g.displayName = `team-${Math.floor(random() * 50)}`;
        return `rename ${g.id}`;
    }
  };
  return { dir, write, change, ...sourcesOver(dir, cleanup) };
}

describe('a directory read again file by file, over odd directories', () => {
  // YAML and JSON files, a users-only file, an empty file, a group whose id is a user's, self-nesting,
  // cycles, repeated and unknown members, groups emptied, reversed, reordered, renamed; whole reads between
  for (const seed of [1, 2, 3, 4]) {
    it(`gives what a whole read gives (seed ${seed})`, async () => {
      const t = setup(seed);
      await t.source.fetch(signal);
      let followed = 0;
      for (let step = 0; step < 80; step++) {
        const what = [t.change(), ...(step % 3 === 0 ? [t.change()] : [])];
        t.write();
        t.tick();
        // sometimes a whole read (as a dry run / explain) comes between
        if (step % 7 === 3) await t.source.fetch(signal);
        const read = await t.source.fetch(signal, { partial: true });
        const expected = await t.whole.fetch(signal);
        const msg = `step ${step}: ${what.join(', ')}`;
        expect(printGroups(read.groups, t.key), msg).toEqual(printGroups(unprinted(expected.groups), t.key));
        expect(view(read.groups, t.key), msg).toEqual(view(unprinted(expected.groups), t.key));
        expect(read.warnings, msg).toEqual(expected.warnings);
        if (!t.wasWhole()) followed++;
      }
      expect(followed).toBeGreaterThan(20);
    });
  }
});
