import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/sandbox/random.js';
import { spanDigest, spansOf, type FileSpans } from '../../src/sources/file/spans.js';
import { documentOf, mutatedText, ODD_LAYOUTS } from '../helpers/json-directory.js';

const parts = (bytes: Buffer, spans: FileSpans) => ({
  users: JSON.parse(bytes.toString('utf8', ...spans.users)) as unknown,
  groups: spans.groups.map((s) => JSON.parse(bytes.toString('utf8', ...s)) as unknown),
});

describe('the spans of a JSON directory file', () => {
  it('are its users list and each of its groups, however it is laid out and whatever its strings hold', () => {
    const random = seededRandom(31);
    for (let i = 0; i < 2_000; i++) {
      const { value, text } = documentOf(random);
      const bytes = Buffer.from(text);
      const spans = spansOf(bytes);
      expect(spans, text).toBeDefined();
      expect(parts(bytes, spans!)).toEqual({ users: value.users, groups: value.groups });
    }
  });

  it('step over a users list known by the digest and length of its bytes, and are then those a scan finds', () => {
    const random = seededRandom(33);
    let steppedOver = 0;
    for (let i = 0; i < 1_000; i++) {
      const before = Buffer.from(documentOf(random).text);
      const was = spansOf(before)!;
      const known = { digest: spanDigest(before, was.users), length: was.users[1] - was.users[0] };
      // the same users list, its groups and what lies around it changed or not
      const users = before.toString('utf8', ...was.users);
      const groups = JSON.stringify(documentOf(random).value.groups);
      const texts = [
        before.toString(),
        `{"groups":${groups}, "users":${users}}`,
        `{ "users" : ${users} ,"groups":${groups}}`,
        `{"users":${users.slice(0, -1)},"groups":${groups}}`,
        `{"users":${users}${users},"groups":${groups}}`,
        `{"users":${JSON.stringify([{ id: 'other' }])},"groups":${groups}}`,
      ];
      for (const text of texts) {
        const bytes = Buffer.from(text);
        const scanned = spansOf(bytes);
        const stepped = spansOf(bytes, known);
        const wrong = spansOf(bytes, { ...known, length: known.length + 1 });
        for (const spans of [stepped, wrong]) {
          expect(spans === undefined, text).toBe(scanned === undefined);
          if (!spans || !scanned) continue;
          expect({ users: spans.users, groups: spans.groups, elements: spans.userElements }, text).toEqual({
            users: scanned.users,
            groups: scanned.groups,
            elements: scanned.userElements,
          });
        }
        if (stepped?.usersDigest !== undefined) {
          steppedOver++;
          expect(bytes.subarray(...stepped.users).equals(before.subarray(...was.users))).toBe(true);
          expect(stepped.usersDigest).toBe(known.digest);
        }
        expect(wrong?.usersDigest).toBeUndefined();
      }
    }
    expect(steppedOver).toBeGreaterThan(2_500);
  });

  it('are not given for a file laid out otherwise: the file is then read whole', () => {
    const plain = '{"users":[{"id":"u1"}],"groups":[{"id":"g1","displayName":"G","members":["u1"]}]}';
    expect(spansOf(Buffer.from(plain))).toBeDefined();
    for (const odd of ODD_LAYOUTS) expect(spansOf(Buffer.from(odd)), odd).toBeUndefined();
  });

  it('never vouch for a file JSON refuses: where spans are given and each parses, the file parses to them', () => {
    // the property a run relies on: unchanged spans parsed before, changed ones are parsed now, so the file is what they say
    const random = seededRandom(32);
    let vouched = 0;
    let refused = 0;
    for (let i = 0; i < 20_000; i++) {
      const text = mutatedText(documentOf(random).text, random);
      const bytes = Buffer.from(text);
      const spans = spansOf(bytes);
      let fromSpans: unknown;
      try {
        fromSpans = spans && parts(bytes, spans);
      } catch {
        fromSpans = undefined;
      }
      if (fromSpans === undefined) continue;
      let whole: unknown;
      try {
        // the file's bytes, as a run reads it (a surrogate pair cut in two is written as U+FFFD)
        whole = JSON.parse(bytes.toString('utf8'));
      } catch {
        refused++;
      }
      expect(refused, text).toBe(0);
      const { users, groups } = whole as { users: unknown; groups: unknown };
      expect({ users, groups }, text).toEqual(fromSpans);
      expect(Object.keys(whole as object).sort()).toEqual(['groups', 'users']);
      vouched++;
    }
    // the mutations must leave enough files that still read, or the test says nothing
    expect(vouched).toBeGreaterThan(1_000);
  });
});
