import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { identityValue } from '../../src/identity/resolve.js';
import { printGroups } from '../../src/reconcile/changed-groups.js';
import { seededRandom } from '../../src/sandbox/random.js';
import { membersPrint, printBatch, printKeyOf, updatedMembersPrint } from '../../src/sources/print.js';
import { toStoredUser } from '../../src/sources/ldap/stored.js';
import type { DesiredGroup, SourceUser } from '../../src/sources/types.js';

/** a group of one file-source user, whose raw attributes are this YAML */
function groupOf(userYaml: string): { group: DesiredGroup; user: SourceUser } {
  const raw = parse(userYaml) as Record<string, unknown>;
  const user: SourceUser = { id: 'a', emails: [], active: true, raw };
  return { group: { key: 'f:eng', source: 'f', id: 'eng', displayName: 'eng', members: [user], complete: true }, user };
}

/** prints are keyed per store: these tests hold one key */
const KEY = printKeyOf('0001020304050607');

describe('group prints', () => {
  // JSON writes NaN, ±Infinity and null alike; identity does not read them alike
  for (const [before, after] of [
    ['{ id: a, employeeNumber: .nan }', '{ id: a, employeeNumber: .inf }'],
    ['{ id: a, employeeNumber: ~ }', '{ id: a, employeeNumber: 1e400 }'],
    ['{ id: a, employeeNumber: .inf }', '{ id: a, employeeNumber: -.inf }'],
    ['{ id: a, mail: a@x }', '{ id: a, mail: a@y }'],
  ] as const) {
    it(`change when what identity reads changes: ${before} → ${after}`, () => {
      const x = groupOf(before);
      const y = groupOf(after);
      if (identityValue(x.user, 'employeeNumber') === identityValue(y.user, 'employeeNumber'))
        expect(identityValue(x.user, 'mail')).not.toBe(identityValue(y.user, 'mail'));
      expect(printGroups([x.group], KEY).get('f:eng')).not.toBe(printGroups([y.group], KEY).get('f:eng'));
    });
  }

  it('stay the same for the same read, and change with a member, a name or a flag', () => {
    const base = groupOf('{ id: a, mail: a@x }').group;
    const print = (g: DesiredGroup) => printGroups([g], KEY).get(g.key);
    expect(print(groupOf('{ id: a, mail: a@x }').group)).toBe(print(base));
    const other: SourceUser = { id: 'b', emails: [], active: true, raw: { id: 'b' } };
    expect(print({ ...base, members: [...base.members, other] })).not.toBe(print(base));
    expect(print({ ...base, displayName: 'eng2' })).not.toBe(print(base));
    expect(print({ ...base, complete: false })).not.toBe(print(base));
    expect(print({ ...base, members: [{ ...base.members[0]!, active: false }] })).not.toBe(print(base));
  });

  it('are, under one key, what the stores hold from before (a new way of printing would plan every group once more), and another key prints otherwise', () => {
    const users = ['a', 'b', 'c'].map((id): SourceUser => ({ id, emails: [], active: id !== 'c', raw: { id, mail: `${id}@x` } }));
    const group: DesiredGroup = {
      key: 'f:eng',
      source: 'f',
      id: 'eng',
      displayName: 'eng',
      members: [users[0]!, users[2]!, users[1]!, users[0]!],
      complete: true,
    };
    expect(printGroups([group], KEY).get('f:eng')).toBe('9i1g5e.1f6306a.4~vzuimd~6avncq');
    const other = printGroups([group], printKeyOf('0001020304050608')).get('f:eng')!;
    for (const [i, part] of other.split(/[.~]/).entries()) if (i !== 2) expect(part).not.toBe(printGroups([group], KEY).get('f:eng')!.split(/[.~]/)[i]);
  });

  it('of members are the same in any order, and updated by who left and who came are what printing the members now gives', () => {
    const random = seededRandom(5);
    const pool = Array.from({ length: 40 }, (_, i): SourceUser => ({ id: `u${i}`, emails: [], active: i % 7 !== 0, raw: { id: `u${i}`, n: i % 3 } }));
    const pick = () => pool.filter(() => random() < 0.4);
    for (let round = 0; round < 200; round++) {
      const before = pick();
      const now = pick();
      const print = membersPrint(before, printBatch(KEY));
      expect(membersPrint([...before].reverse(), printBatch(KEY))).toBe(print);
      const left = before.filter((u) => !now.includes(u));
      const came = now.filter((u) => !before.includes(u));
      expect(updatedMembersPrint(print, left, came, KEY)).toBe(membersPrint(now, printBatch(KEY)));
      // a member changed, or one more or fewer, prints otherwise
      if (came.length > 0) expect(updatedMembersPrint(print, left, came.slice(1), KEY)).not.toBe(membersPrint(now, printBatch(KEY)));
    }
    const a = pool[1]!;
    // repeats count
    expect(membersPrint([a, a], printBatch(KEY))).not.toBe(membersPrint([a], printBatch(KEY)));
    expect(updatedMembersPrint(membersPrint([a, a], printBatch(KEY)), [a], [], KEY)).toBe(membersPrint([a], printBatch(KEY)));
    // a print of another form (stored before prints were sums), or fewer members than left: no update
    expect(updatedMembersPrint('slhu5b.1p1m783', [], [a], KEY)).toBeUndefined();
    expect(updatedMembersPrint(membersPrint([a], printBatch(KEY)), [a, a], [], KEY)).toBeUndefined();
  });

  it('leave nothing of theirs in what a source stores of a user', () => {
    const user: SourceUser = { id: 'a', emails: [], active: true, raw: { id: 'a', mail: 'a@x' } };
    const before = toStoredUser(user).data;
    printGroups([{ key: 'l:eng', source: 'l', id: 'eng', displayName: 'eng', members: [user], complete: true }], KEY);
    expect(user.printedBy).toBeDefined();
    expect(toStoredUser(user).data).toBe(before);
    // nor the key: a user written out or logged shows no key of the store's
    const written = JSON.stringify(user);
    for (const word of [KEY.k0, KEY.k1]) expect(written).not.toContain(String(word));
    expect(JSON.stringify(user.printedBy)).toBe('{}');
  });

  it("take a stored head's print only while the group is as stored: a copy made unknown, or a flag set on it, is printed anew", () => {
    const { group } = groupOf('{ id: a, mail: a@x }');
    const fresh = printGroups([group], KEY).get('f:eng')!;
    const stub = { ...group };
    Object.defineProperty(stub, 'headPrint', { value: 'stored' });
    expect(printGroups([stub], KEY).get('f:eng')).toBe(`stored.${fresh.split('.').slice(2).join('.')}`);
    // the guard's copy, made unknown and suspect, carries no stored print
    const suspect = { ...stub, complete: false, unknownReason: 'came back with no members', suspect: true };
    expect(printGroups([suspect], KEY).get('f:eng')).toBe(
      printGroups([{ ...group, complete: false, unknownReason: 'came back with no members', suspect: true }], KEY).get('f:eng'),
    );
    for (const flag of [{ complete: false }, { suspect: true }, { unknownReason: 'x' }, { unknownIsReadError: false }]) {
      const flagged = { ...group, ...flag };
      Object.defineProperty(flagged, 'headPrint', { value: 'stored' });
      expect(printGroups([flagged], KEY).get('f:eng')).toBe(printGroups([{ ...group, ...flag }], KEY).get('f:eng'));
    }
  });
});
