import { afterEach, describe, expect, it } from 'vitest';
import { UserIds } from '../../src/members/user-ids.js';
import { PlanParts, saveParts } from '../../src/reconcile/group-parts.js';
import { membersPrint, printBatch, printKeyOf } from '../../src/sources/print.js';
import type { DesiredGroup, MembersMoved, SourceUser } from '../../src/sources/types.js';
import type { GroupPart } from '../../src/store/group-parts.js';
import { Store } from '../../src/store/store.js';

const KEY = printKeyOf('0001020304050607');
const RULE = '["test","wire:example.com","externalId"]';
const stores: Store[] = [];
afterEach(() => stores.splice(0).forEach((s) => s.close()));

function user(n: number, extra: Partial<SourceUser> = {}): SourceUser {
  return { id: `u${n}`, externalId: `x${n}`, emails: [], active: true, raw: { id: `u${n}` }, ...extra };
}
const resolve = (u: SourceUser) => u.externalId;

/** a group read as members that came and went since `before` */
function movedGroup(key: string, members: SourceUser[], moved: MembersMoved, flags: Partial<DesiredGroup> = {}): DesiredGroup {
  const g = { key, source: 'f', id: key.slice(2), displayName: key, members, complete: true, membersPrint: membersPrint(members, printBatch(KEY)), ...flags };
  return Object.defineProperty(g, 'moved', { value: moved });
}

/** the store's numbering of x1…x9 as a snapshot loads it (x9 not among the ids loaded) */
const numbering = () =>
  UserIds.fromRows(
    [1, 2, 3, 4, 5, 6, 7, 8].map((n) => [n, `x${n}`] as const),
    9,
  );
/** `user_ids` as the store holds it: x1…x9 numbered 1…9 */
const storeNumbers = (ids: readonly string[]) => new Map(ids.flatMap((id) => (/^x[1-9]$/.test(id) ? [[id, Number(id.slice(1))] as const] : [])));
const part = (users: UserIds, ids: readonly string[], extra: Partial<GroupPart> = {}): GroupPart => ({
  print: 'p',
  unresolved: 0,
  refs: Int32Array.from(ids, (id) => users.find(id) ?? 9),
  ...extra,
});
const idsOf = (users: UserIds, refs: Int32Array | undefined) => refs && Array.from(refs, (r) => users.name(r)).sort();
const partPrints = (s: Store) => new Map([...s.parts.stored(RULE)].map(([k, p]) => [k, p.print]));

describe('a plan starts a group from its stored part', () => {
  const [u1, u2, u3, u4] = [1, 2, 3, 4].map((n) => user(n));
  const before = membersPrint([u1!, u2!, u3!], printBatch(KEY));

  it('when only members came and went since the part was resolved: the part less who left, with who came', () => {
    const users = numbering();
    const g = movedGroup('f:g', [u1!, u3!, u4!], { before, left: [u2!], came: [u4!] });
    const parts = new PlanParts(users).load([g], new Map([['f:g', part(users, ['x1', 'x2', 'x3'], { print: before })]]), resolve, storeNumbers);
    expect(parts.used).toBe(1);
    expect(idsOf(users, parts.of(g))).toEqual(['x1', 'x3', 'x4']);
  });

  it('numbers who came as the store does, naming numbers the snapshot did not read, and ids new to the store past them', () => {
    const users = numbering();
    const newcomer = user(12);
    const g = movedGroup('f:g', [u1!, u3!, user(9), newcomer], { before, left: [u2!], came: [user(9), newcomer] });
    const parts = new PlanParts(users).load([g], new Map([['f:g', part(users, ['x1', 'x2', 'x3'], { print: before })]]), resolve, storeNumbers);
    expect(Array.from(parts.of(g)!).sort((a, b) => a - b)).toEqual([1, 3, 9, 10]);
    expect(idsOf(users, parts.of(g))).toEqual(['x1', 'x12', 'x3', 'x9']);
    // one number per id from then on
    expect([users.ref('x9'), users.ref('x12'), users.find('x9')]).toEqual([9, 10, 9]);
  });

  it('keeps a backend id two members share while one of them stays, and leaves out deactivated members', () => {
    const twin = user(5, { externalId: 'x1' });
    const asleep = user(6, { active: false });
    const users = numbering();
    const g = movedGroup('f:g', [twin, u2!, asleep], { before, left: [u1!, asleep], came: [asleep] });
    const parts = new PlanParts(users).load([g], new Map([['f:g', part(users, ['x1', 'x1', 'x2'], { print: before })]]), resolve, storeNumbers);
    expect(idsOf(users, parts.of(g))).toEqual(['x1', 'x2']);
  });

  for (const [why, ids, extra, moved, flags] of [
    ['the part was resolved from other members', ['x1', 'x2', 'x3'], { print: 'other' }, { before, left: [u2!], came: [] }, {}],
    ['the part had members without a backend id', ['x1', 'x3'], { unresolved: 1 }, { before, left: [u2!], came: [] }, {}],
    ['one who left is not in the part', ['x1', 'x3'], {}, { before, left: [u2!], came: [] }, {}],
    ['one who came has no backend id', ['x1', 'x2', 'x3'], {}, { before, left: [], came: [user(7, { externalId: undefined })] }, {}],
    ['a number of the part has no id the snapshot read', ['x1', 'x2', 'x9'], {}, { before, left: [u2!], came: [] }, {}],
    ['the group is not as read (the guard made it unknown)', ['x1', 'x2', 'x3'], {}, { before, left: [u2!], came: [] }, { complete: false }],
  ] as const) {
    it(`not when ${why}: its members are read and resolved instead`, () => {
      const users = numbering();
      const g = movedGroup('f:g', [u1!, u3!], moved as MembersMoved, flags);
      const parts = new PlanParts(users).load([g], new Map([['f:g', part(users, ids, Object.assign({ print: before }, extra))]]), resolve, storeNumbers);
      expect(parts.used).toBe(0);
      expect(parts.of(g)).toBeUndefined();
    });
  }

  it('not for a copy of the group, which has no moved members', () => {
    const users = numbering();
    const g = movedGroup('f:g', [u1!, u3!], { before, left: [u2!], came: [] });
    expect(new PlanParts(users).load([{ ...g }], new Map([['f:g', part(users, ['x1', 'x2', 'x3'], { print: before })]]), resolve, storeNumbers).used).toBe(0);
  });
});

describe('the parts a plan leaves', () => {
  function store(): Store {
    const s = Store.open(':memory:');
    stores.push(s);
    return s;
  }
  const group = (key: string, print: string, flags: Partial<DesiredGroup> = {}): DesiredGroup => ({
    key,
    source: 'f',
    id: key,
    displayName: key,
    members: [],
    complete: true,
    membersPrint: print,
    ...flags,
  });

  it('are stored in the store numbers when their print is new; a part with an id the store does not number is not kept', () => {
    const s = store();
    const users = numbering();
    s.parts.save(new Map([['f:same', { print: 'same', unresolved: 0, refs: Int32Array.of(1) }]]), RULE);
    const parts = new PlanParts(users);
    parts.resolved(group('f:same', 'same'), { refs: Int32Array.of(1), unresolved: 0 });
    parts.resolved(group('f:new', 'new'), { refs: Int32Array.of(2, 2, 3), unresolved: 1 });
    // an id numbered in memory only: the store has no number for it
    parts.resolved(group('f:fresh', 'fresh'), { refs: Int32Array.of(2, users.ref('y1')), unresolved: 0 });
    // a group as the guard copied it, made unknown: no part
    parts.resolved(group('f:unknown', 'u', { complete: false }), { refs: Int32Array.of(4), unresolved: 0 });
    const unnumbered = saveParts(s, RULE, parts, users, { full: false });
    expect([...partPrints(s)].sort()).toEqual([
      ['f:new', 'new'],
      ['f:same', 'same'],
    ]);
    // once the ops numbered the id, that part alone is stored
    expect([...unnumbered]).toEqual(['f:fresh']);
    (s as unknown as { db: { prepare(sql: string): { run(...a: unknown[]): void } } }).db
      .prepare(`INSERT INTO user_ids (ref, user_id) VALUES (12, 'y1')`)
      .run();
    expect([...saveParts(s, RULE, parts, users, { full: false, only: unnumbered })]).toEqual([]);
    expect(s.parts.some(['f:fresh'], RULE).get('f:fresh')?.refs).toEqual(Int32Array.of(2, 12));
    expect(s.parts.some(['f:new'], RULE).get('f:new')).toEqual({ print: 'new', unresolved: 1, refs: Int32Array.of(2, 2, 3) });
    expect(s.parts.some(['f:new'], '["another rule"]').size).toBe(0);
  });

  it("are written again when the store holds the same print with other numbers (a part gone wrong), in one order whatever the members' order", () => {
    const s = store();
    const users = numbering();
    s.parts.save(new Map([['f:g', { print: 'p', unresolved: 0, refs: Int32Array.of(1, 2) }]]), RULE);
    const parts = new PlanParts(users);
    parts.resolved(group('f:g', 'p'), { refs: Int32Array.of(3, 1), unresolved: 0 });
    saveParts(s, RULE, parts, users, { full: false });
    expect(s.parts.stored(RULE).get('f:g')).toEqual({ print: 'p', refs: '1,3' });
    expect(s.parts.some(['f:g'], RULE).get('f:g')?.refs).toEqual(Int32Array.of(1, 3));
  });

  it('after a full plan, forget the parts of groups it did not read', () => {
    const s = store();
    const users = numbering();
    s.parts.save(new Map([['f:gone', { print: 'p', unresolved: 0, refs: Int32Array.of(5) }]]), RULE);
    const parts = new PlanParts(users);
    parts.resolved(group('f:kept', 'k'), { refs: Int32Array.of(1), unresolved: 0 });
    saveParts(s, RULE, parts, users, { full: false });
    expect([...partPrints(s).keys()].sort()).toEqual(['f:gone', 'f:kept']);
    // and those of another identity rule
    s.parts.save(new Map([['f:other', { print: 'p', unresolved: 0, refs: Int32Array.of(6) }]]), '["another rule"]');
    saveParts(s, RULE, parts, users, { full: true });
    expect([...partPrints(s).keys()]).toEqual(['f:kept']);
    expect(s.parts.count()).toBe(1);
  });

  it('are not kept where the store holds no list of numbers (a damaged row): the group is mapped from its members', () => {
    const s = store();
    s.parts.save(new Map([['f:g', { print: 'p', unresolved: 0, refs: Int32Array.of(1, 2) }]]), RULE);
    expect(s.parts.some(['f:g'], RULE).get('f:g')?.refs).toEqual(Int32Array.of(1, 2));
    for (const [refs, read] of [
      [Int32Array.of(), []],
      [Int32Array.of(2147483647, 7, 7), [7, 7, 2147483647]],
    ] as const) {
      s.parts.save(new Map([['f:g', { print: 'p', unresolved: 0, refs }]]), RULE);
      expect(Array.from(s.parts.some(['f:g'], RULE).get('f:g')!.refs)).toEqual(read);
    }
    for (const damaged of ['1,x', '1,,2', '1,0', '-1', '4294967297', '2147483648', '12345678901', '2,1', '01', '1,', ',1', ' 1', '1e3']) {
      s.parts.save(new Map([['f:g', { print: 'p', unresolved: 0, refs: Int32Array.of(1) }]]), RULE);
      (s as unknown as { db: { prepare(sql: string): { run(...a: unknown[]): void } } }).db.prepare(`UPDATE group_parts SET refs = ?`).run(damaged);
      expect(s.parts.some(['f:g'], RULE).size, damaged).toBe(0);
    }
  });

  it('are forgotten when the store rewrites its user ids into another form (numbers may merge)', () => {
    const s = store();
    s.parts.save(new Map([['f:g', { print: 'p', unresolved: 0, refs: Int32Array.of(1) }]]), RULE);
    s.users.canonicalizeUserIds('wire:example.com', (id) => id);
    expect(partPrints(s).size).toBe(0);
  });
});
