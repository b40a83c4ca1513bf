import { describe, expect, it } from 'vitest';
import { UserIds } from '../../src/members/user-ids.js';

/** a snapshot's numbering: the store numbers a…e 1…5, of which it read a, c and e */
const partlyRead = () =>
  UserIds.fromRows(
    [
      [1, 'a'],
      [3, 'c'],
      [5, 'e'],
    ],
    5,
  );

describe('an id numbered as the store numbers it', () => {
  it('takes the store number, named from then on, when the numbering did not read it', () => {
    const users = partlyRead();
    expect(users.storedAs('b', 2)).toBe(2);
    expect(users.name(2)).toBe('b');
    expect([users.find('b'), users.ref('b'), users.ref('f')]).toEqual([2, 2, 6]);
  });

  it('is the number it has when read, or when given in memory before', () => {
    const users = partlyRead();
    expect(users.storedAs('c', 3)).toBe(3);
    expect(users.ref('d')).toBe(6);
    expect(users.storedAs('d', 4)).toBe(6);
    expect(users.named(4)).toBe(false);
  });

  it('is numbered in memory when the number is not the store’s as read (past it, or naming another id)', () => {
    const users = partlyRead();
    expect(users.storedAs('x', 9)).toBe(6);
    expect(users.storedAs('y', 3)).toBe(7);
    expect(users.storedAs('z', 0)).toBe(8);
    expect([users.name(3), users.find('y')]).toEqual(['c', 7]);
  });
});

describe('an id found', () => {
  it('is found the same before and after the ids are indexed, and after numbers are named or given', () => {
    const users = partlyRead();
    const asked = ['a', 'e', 'b', 'a', 'c', 'zz', 'e', 'c'];
    const before = asked.map((id) => users.find(id));
    expect(before).toEqual([1, 5, undefined, 1, 3, undefined, 5, 3]);
    expect(users.find('b')).toBeUndefined();
    users.storedAs('b', 2);
    expect(users.find('b')).toBe(2);
    users.ref('zz');
    expect(['a', 'b', 'zz'].map((id) => users.find(id))).toEqual([1, 2, 6]);
  });
});
