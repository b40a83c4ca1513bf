import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemberSets } from '../../src/store/member-sets.js';
import { Store } from '../../src/store/store.js';
import { cleanupAfterEach } from '../helpers/temp-db.js';

const cleanup = cleanupAfterEach();

/** two writers on one store file, one after the other (the lease changing hands) */
function twoWriters() {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-member-sets-'));
  const file = join(dir, 'db.sqlite');
  Store.open(file).close();
  const open = () => {
    const db = new Database(file);
    cleanup.push(() => db.close());
    return { db, sets: new MemberSets(db) };
  };
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return [open(), open()] as const;
}

const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const membersOf = (sets: MemberSets, conversation: string) => sets.load().membersOf(conversation);

describe('member sets: user numbers', () => {
  // 10 ids stay under the one-by-one limit; 3,000 go past it, so the whole table is read
  for (const many of [10, 3_000]) {
    it(`finds the numbers another writer gave since (${many} ids asked before)`, () => {
      const [a, b] = twoWriters();
      a.sets.edit('c1', { add: ids(many, 'a'), origin: 'convsync' });
      b.sets.edit('c2', { add: ['shared', ...ids(5, 'b')], origin: 'convsync' });
      // a has not seen "shared" and must not number it twice (user_id is unique)
      a.sets.edit('c1', { add: ['shared'], origin: 'convsync' });
      expect(a.sets.edit('c2', { remove: ['shared'] })).toEqual(['shared']);
      expect(membersOf(a.sets, 'c1').size).toBe(many + 1);
      expect(membersOf(b.sets, 'c2').size).toBe(5);
    });

    it(`forgets the numbers of a write that was rolled back (${many} ids asked before)`, () => {
      const [a, b] = twoWriters();
      a.sets.edit('c1', { add: ids(many, 'a'), origin: 'convsync' });
      // as the store writes: writing() around the transaction
      const failing = () =>
        a.sets.writing(() =>
          a.db.transaction(() => {
            a.sets.edit('c1', { add: ['gone'], origin: 'convsync' });
            throw new Error('the op failed');
          })(),
        );
      expect(failing).toThrow('the op failed');
      // the number "gone" had is given again to someone else
      b.sets.edit('c2', { add: ['other'], origin: 'convsync' });
      a.sets.edit('c1', { add: ['gone'], origin: 'convsync' });
      expect(membersOf(a.sets, 'c1').ids).toContain('gone');
      expect(membersOf(a.sets, 'c2').ids).toEqual(['other']);
    });
  }
});

describe('member sets: the numbering kept between loads', () => {
  const write = (w: ReturnType<typeof twoWriters>[number], fn: () => unknown) => w.sets.writing(() => w.db.transaction(fn)());
  const names = (sets: MemberSets) => {
    const users = sets.load().users;
    return Array.from({ length: users.size - 1 }, (_, i) => (users.named(i + 1) ? users.name(i + 1) : undefined));
  };

  it('reads the numbers given since the last load, each with its id', () => {
    const [a] = twoWriters();
    write(a, () => a.sets.edit('c1', { add: ['u1', 'u2'], origin: 'convsync' }));
    expect(names(a.sets)).toEqual(['u1', 'u2']);
    write(a, () => a.sets.edit('c2', { add: ['u3', 'u1'], origin: 'convsync' }));
    expect(names(a.sets)).toEqual(['u1', 'u2', 'u3']);
    expect(a.sets.load().membersOf('c2').ids).toEqual(['u1', 'u3']);
    // a numbering handed out is the plan's to extend: the next load does not see what it numbered in memory
    a.sets.load().users.ref('in-memory');
    expect(names(a.sets)).toEqual(['u1', 'u2', 'u3']);
  });

  it('reads the table again after another connection committed (it may have merged ids and given a freed number again)', () => {
    const [a, b] = twoWriters();
    write(a, () => a.sets.edit('c1', { add: ['u', 'U'], origin: 'convsync' }));
    expect(names(a.sets)).toEqual(['u', 'U']);
    write(b, () => b.sets.canonicalize((id) => id.toLowerCase()));
    write(b, () => b.sets.edit('c2', { add: ['v'], origin: 'convsync' }));
    expect(names(a.sets)).toEqual(['u', 'v']);
    expect(a.sets.load().membersOf('c2').ids).toEqual(['v']);
  });

  it('keeps the numbering while other connections only add ids or write elsewhere (a daemon: pushes, the lease)', () => {
    const [a, b] = twoWriters();
    write(a, () => a.sets.edit('c1', { add: ['u1', 'u2'], origin: 'convsync' }));
    expect(names(a.sets)).toEqual(['u1', 'u2']);
    write(b, () => b.sets.edit('c2', { add: ['u3'], origin: 'convsync' }));
    b.db.prepare(`INSERT INTO meta (key, value) VALUES ('elsewhere', 'x')`).run();
    // a change the epoch does not tell (its trigger dropped): a numbering read again would show it
    b.db.exec(`DROP TRIGGER user_ids_renamed; UPDATE user_ids SET user_id = 'unseen' WHERE user_id = 'u1'`);
    expect(names(a.sets)).toEqual(['u1', 'u2', 'u3']);
    expect(names(b.sets)).toEqual(['unseen', 'u2', 'u3']);
  });

  it('reads the numbering again, and trusts no cached number, after a copy of the store was restored under it', async () => {
    const [a, b] = twoWriters();
    write(a, () => a.sets.edit('c1', { add: ['u1', 'u2'], origin: 'convsync' }));
    const copy = `${a.db.name}.copy`;
    cleanup.push(() => rmSync(copy, { force: true }));
    a.db.exec(`VACUUM INTO '${copy}'`);
    write(a, () => a.sets.edit('c2', { add: ['u3'], origin: 'convsync' }));
    expect(names(a.sets)).toEqual(['u1', 'u2', 'u3']);
    // the copy, restored: its epoch is the same, and number 3 is given again, to someone else
    const restored = new Database(copy);
    await restored.backup(a.db.name);
    restored.close();
    write(b, () => b.sets.edit('c2', { add: ['v'], origin: 'convsync' }));
    expect(names(a.sets)).toEqual(['u1', 'u2', 'v']);
    expect(a.sets.load().membersOf('c2').ids).toEqual(['v']);
    write(a, () => a.sets.edit('c3', { add: ['u3'], origin: 'convsync' }));
    expect(b.sets.load().membersOf('c3').ids).toEqual(['u3']);
  });

  it('trusts nothing cached in a store that lost its epoch', () => {
    const [a, b] = twoWriters();
    write(a, () => a.sets.edit('c1', { add: ['u1', 'u2'], origin: 'convsync' }));
    expect(names(a.sets)).toEqual(['u1', 'u2']);
    b.db.exec(`DELETE FROM user_ids_epoch; DROP TRIGGER user_ids_renamed; UPDATE user_ids SET user_id = 'w' WHERE user_id = 'u1'`);
    expect(names(a.sets)).toEqual(['w', 'u2']);
    write(a, () => a.sets.edit('c2', { add: ['u1'], origin: 'convsync' }));
    expect(b.sets.load().membersOf('c2').ids).toEqual(['u1']);
    // and again after a write that found no epoch either
    b.db.exec(`UPDATE user_ids SET user_id = 'x' WHERE user_id = 'u1'`);
    write(a, () => a.sets.edit('c3', { add: ['u1'], origin: 'convsync' }));
    expect(b.sets.load().membersOf('c3').ids).toEqual(['u1']);
  });

  it('is of one state with the sets when another connection merges ids in the middle of a load', () => {
    const [a, b] = twoWriters();
    write(a, () => a.sets.edit('c1', { add: ['u@own', 'v@own'], origin: 'convsync' }));
    expect(names(a.sets)).toEqual(['u@own', 'v@own']);
    write(a, () => a.sets.edit('c1', { add: ['x@own'], origin: 'convsync' }));
    // the other writer commits while this load reads: after the sets, before the numbering
    const prepare = a.db.prepare.bind(a.db);
    let once = true;
    a.db.prepare = ((source: string) => {
      if (source.includes('max(ref)') && once) {
        once = false;
        write(b, () => b.sets.canonicalize((id) => id.replace('@own', '')));
      }
      return prepare(source);
    }) as typeof a.db.prepare;
    const during = a.sets.load();
    expect(during.membersOf('c1').ids).toEqual(['u@own', 'v@own', 'x@own']);
    expect(names(a.sets)).toEqual(['u', 'v', 'x']);
  });

  it('places each id by its number when merged ids left a gap, read whole or on top of the ids kept', () => {
    const [a, b] = twoWriters();
    write(a, () => a.sets.edit('c1', { add: ['u', 'U', 'v'], origin: 'convsync' }));
    // "U" (number 2, not the highest) is folded into "u": number 2 is left without an id
    write(a, () => a.sets.canonicalize((id) => id.toLowerCase()));
    expect(names(a.sets)).toEqual(['u', undefined, 'v']);
    expect(names(b.sets)).toEqual(['u', undefined, 'v']);
    write(b, () => b.sets.edit('c2', { add: ['w'], origin: 'convsync' }));
    expect(names(b.sets)).toEqual(['u', undefined, 'v', 'w']);
    expect(b.sets.load().membersOf('c1').ids).toEqual(['u', 'v']);
    expect(a.sets.load().membersOf('c2').ids).toEqual(['w']);
  });

  it('reads the table again after this connection merged ids', () => {
    const [a] = twoWriters();
    write(a, () => a.sets.edit('c1', { add: ['u', 'U'], origin: 'convsync' }));
    expect(names(a.sets)).toEqual(['u', 'U']);
    write(a, () => a.sets.canonicalize((id) => id.toLowerCase()));
    write(a, () => a.sets.edit('c2', { add: ['v'], origin: 'convsync' }));
    expect(names(a.sets)).toEqual(['u', 'v']);
  });
});

describe('member sets: numbers another writer changed', () => {
  const write = (w: ReturnType<typeof twoWriters>[number], fn: () => unknown) => w.sets.writing(() => w.db.transaction(fn)());

  it('are not trusted from the cache once another connection merged ids (a merge freed a number, given again to someone else)', () => {
    const [a, b] = twoWriters();
    write(a, () => a.sets.edit('c1', { add: ['u', 'U'], origin: 'convsync' }));
    // the other writer folds "U" into "u": the highest number is freed, and SQLite gives it to the next id
    write(b, () => b.sets.canonicalize((id) => id.toLowerCase()));
    write(b, () => b.sets.edit('c2', { add: ['v'], origin: 'convsync' }));
    write(a, () => a.sets.edit('c3', { add: ['U'], origin: 'convsync' }));
    expect(a.sets.load().membersOf('c3').ids).toEqual(['U']);
    expect(a.sets.load().membersOf('c2').ids).toEqual(['v']);
  });

  it('are told under the write lock: a merge cannot come between the check and the write', () => {
    const [a, b] = twoWriters();
    write(a, () => a.sets.edit('c1', { add: ['u', 'U'], origin: 'convsync' }));
    b.db.pragma('busy_timeout = 0');
    // the other writer folds "U" into "u" and gives the freed number to "w", once this write has begun
    const interloper = () => write(b, () => [b.sets.canonicalize((id) => id.toLowerCase()), b.sets.edit('c2', { add: ['w'], origin: 'convsync' })]);
    let tried: unknown;
    a.sets.writing(() => {
      try {
        interloper();
      } catch (e) {
        tried = e;
      }
      return a.db.transaction(() => a.sets.edit('c3', { add: ['U'], origin: 'convsync' }))();
    });
    expect((tried as { code?: string } | undefined)?.code).toBe('SQLITE_BUSY');
    expect(b.sets.load().membersOf('c3').ids).toEqual(['U']);
  });

  it('refuses a write started inside a transaction, whose rollback it could not see', () => {
    const [a] = twoWriters();
    const inside = a.db.transaction(() => a.sets.writing(() => a.sets.edit('c1', { add: ['x'], origin: 'convsync' })));
    expect(inside).toThrow(/outside a transaction/);
    expect(a.sets.load().membersOf('c1').size).toBe(0);
  });
});

describe('member sets: a load', () => {
  it('is what the store held when it was read, even when a conversation is first asked for after a write', () => {
    const [a] = twoWriters();
    a.sets.edit('c1', { add: ['u1', 'u2'], origin: 'convsync' });
    const loaded = a.sets.load();
    a.sets.edit('c1', { add: ['u3'], remove: ['u1'], origin: 'convsync' });
    a.sets.edit('c2', { add: ['u4'], origin: 'convsync' });
    expect(loaded.membersOf('c1').ids).toEqual(['u1', 'u2']);
    expect(loaded.membersOf('c2').size).toBe(0);
    expect(a.sets.load().membersOf('c1').ids).toEqual(['u2', 'u3']);
  });
});
