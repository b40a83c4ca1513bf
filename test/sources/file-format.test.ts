import { describe, expect, it } from 'vitest';
import { FileDirectory, plainDirectory } from '../../src/sources/file/format.js';
import { seededRandom } from '../../src/sandbox/random.js';

/** a value of any JSON type, mostly the ones a directory file holds */
function anyValue(random: () => number, depth = 0): unknown {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  switch (pick(depth > 1 ? [0, 1, 2, 3, 4] : [0, 1, 2, 3, 4, 5, 6])) {
    case 0:
      return pick(['', 'a', 'u1', 'g1', 'é', '\ud800', 'null']);
    case 1:
      return pick([0, 1, -1, 1.5, 1e21]);
    case 2:
      return random() < 0.5;
    case 3:
      return null;
    case 4:
      return pick(['x', 'y']);
    case 5:
      return Array.from({ length: Math.floor(random() * 3) }, () => anyValue(random, depth + 1));
    default:
      return objectOf(random, ['id', 'mail', 'emails', 'active'], depth + 1);
  }
}

/** an object with some of these keys (and now and then another), in any order, each mostly of the type the schema wants */
function objectOf(random: () => number, keys: readonly string[], depth: number, wanted: Record<string, () => unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const all = [...keys, ...(random() < 0.2 ? ['extra', 'department'] : [])].sort(() => random() - 0.5);
  for (const k of all) {
    if (random() < 0.15) continue;
    out[k] = random() < 0.9 && wanted[k] ? wanted[k]() : anyValue(random, depth);
  }
  return out;
}

function directoryOf(random: () => number): unknown {
  const text = () => (random() < 0.95 ? `v${Math.floor(random() * 5)}` : anyValue(random, 2));
  const texts = () => (random() < 0.95 ? Array.from({ length: Math.floor(random() * 4) }, text) : anyValue(random, 1));
  const user = () =>
    random() < 0.97
      ? objectOf(random, ['id', 'userName', 'externalId', 'displayName', 'emails', 'active', 'department'], 2, {
          id: text,
          userName: text,
          externalId: text,
          displayName: text,
          emails: texts,
          active: () => random() < 0.7,
          department: () => anyValue(random, 1),
        })
      : anyValue(random, 1);
  const group = () =>
    random() < 0.97 ? objectOf(random, ['id', 'displayName', 'members'], 2, { id: text, displayName: text, members: texts }) : anyValue(random, 1);
  const list = (item: () => unknown) => (random() < 0.95 ? Array.from({ length: Math.floor(random() * 4) }, item) : anyValue(random, 1));
  return random() < 0.97 ? objectOf(random, ['users', 'groups'], 1, { users: () => list(user), groups: () => list(group) }) : anyValue(random);
}

describe('the file source reads a plain directory without the schema', () => {
  it('and gives what the schema gives, field for field and in order, or leaves the file to the schema', () => {
    const random = seededRandom(17);
    let plain = 0;
    let refused = 0;
    let invalid = 0;
    for (let i = 0; i < 20_000; i++) {
      // as JSON.parse gives it: the file source reads text
      const value = JSON.parse(JSON.stringify(directoryOf(random)) ?? 'null') as unknown;
      const fast = plainDirectory(value);
      const checked = FileDirectory.safeParse(value);
      if (fast) {
        plain++;
        expect(checked.success, JSON.stringify(value)).toBe(true);
        expect(JSON.stringify(fast)).toBe(JSON.stringify(checked.data));
        expect(fast).toEqual(checked.data);
      } else if (checked.success) refused++;
      else invalid++;
    }
    // plain files take the short way; files the schema refuses never do (and it says why)
    expect(plain).toBeGreaterThan(2_000);
    expect(invalid).toBeGreaterThan(2_000);
    expect(refused).toBe(0);
  });

  it('leaves a key that would set a prototype to the schema', () => {
    const value = JSON.parse('{"users":[{"id":"u1","__proto__":{"active":false}}]}') as unknown;
    expect(plainDirectory(value)).toBeUndefined();
    expect(FileDirectory.safeParse(value).success).toBe(true);
  });
});
