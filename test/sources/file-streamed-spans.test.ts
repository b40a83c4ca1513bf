import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/sandbox/random.js';
import type { Head } from '../../src/sources/file/read-changes.js';
import { readStamped } from '../../src/sources/file/fingerprint.js';
import { streamedChanges } from '../../src/sources/file/span-changes.js';
import { spanDigest, spansOf, type KnownList } from '../../src/sources/file/spans.js';
import { streamedSpans } from '../../src/sources/file/streamed-spans.js';
import { documentOf, mutatedText, ODD_LAYOUTS } from '../helpers/json-directory.js';

const dir = mkdtempSync(join(tmpdir(), 'convsync-streamed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const fileOf = (text: string | Buffer) => {
  const file = join(dir, `d${files++}.json`);
  writeFileSync(file, text);
  return file;
};

/** what a whole read gives: the spans of the file as `spansOf` finds them with the users list known, compared with the stored digests */
function wholeRead(bytes: Buffer, known: KnownList, stored: (pos: number) => string | undefined) {
  const spans = spansOf(bytes, known);
  if (spans?.usersDigest === undefined) return undefined;
  const differing = spans.groups.flatMap((span, pos) => {
    const digest = spanDigest(bytes, span);
    return digest === stored(pos) ? [] : [{ pos, digest, text: bytes.toString('utf8', ...span) }];
  });
  return { groups: spans.groups.length, differing, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}

const knownOf = (bytes: Buffer): KnownList | undefined => {
  const spans = spansOf(bytes);
  return spans && { digest: spanDigest(bytes, spans.users), length: spans.users[1] - spans.users[0] };
};

describe('a JSON directory file read in pieces', () => {
  it('gives what a whole read gives, wherever the pieces end: its groups, those that differ, its hash; nothing when its users list is not the known one', () => {
    const random = seededRandom(41);
    let followed = 0;
    let refused = 0;
    for (let i = 0; i < 1_000; i++) {
      const before = Buffer.from(documentOf(random).text);
      const known = knownOf(before)!;
      const users = before.toString('utf8', ...spansOf(before)!.users);
      const groups = JSON.stringify(documentOf(random).value.groups);
      const texts = [
        before.toString(),
        `{"groups":${groups}, "users":${users}}`,
        `{ "users" : ${users} ,"groups":${groups}}\n`,
        `{"users":${users.slice(0, -1)},"groups":${groups}}`,
        `{"users":${users}${users},"groups":${groups}}`,
        `{"users":${JSON.stringify([{ id: 'other' }])},"groups":${groups}}`,
        mutatedText(`{"users":${users},"groups":${groups}}`, random),
      ];
      for (const text of texts) {
        const bytes = Buffer.from(text);
        // some groups as stored, some not, some places never stored
        const digests = (spansOf(bytes)?.groups ?? []).map((s) => (random() < 0.5 ? spanDigest(bytes, s) : random() < 0.5 ? 'other' : undefined));
        const stored = (pos: number) => digests[pos];
        const piece = random() < 0.8 ? 1 + Math.floor(random() * 24) : undefined;
        const read = streamedSpans(fileOf(bytes), known, stored, piece);
        const whole = wholeRead(bytes, known, stored);
        expect(read && { groups: read.groups, differing: read.differing, sha256: read.stamp.sha256, size: read.stamp.size }, text).toEqual(whole);
        if (read) followed++;
        else refused++;
      }
    }
    expect(followed).toBeGreaterThan(1_500);
    expect(refused).toBeGreaterThan(1_500);
  });

  it('is not followed when laid out otherwise: the file is then read whole', () => {
    const known = knownOf(Buffer.from('{"users":[],"groups":[]}'))!;
    const plain = '{"users":[],"groups":[{"id":"g1","displayName":"G","members":["u1"]}]}';
    expect(streamedSpans(fileOf(plain), known, () => undefined, 3)?.groups).toBe(1);
    for (const odd of ODD_LAYOUTS) {
      for (const piece of [1, 2, 5, undefined])
        expect(
          streamedSpans(fileOf(odd), known, () => undefined, piece),
          `${odd} (${piece})`,
        ).toBeUndefined();
    }
  });

  it('holds a group larger than a piece, and reads the next file from its own start', () => {
    const members = Array.from({ length: 60_000 }, (_, i) => `user-${i}`);
    const big = { id: 'big', displayName: 'Big', members };
    const users = [{ id: 'user-0' }];
    for (const groups of [[big], [{ id: 'small', displayName: 'S', members: ['user-0'] }, big, { id: 'after', displayName: 'A', members: [] }]]) {
      const bytes = Buffer.from(JSON.stringify({ users, groups }));
      expect(bytes.length).toBeGreaterThan(2 * 256 * 1024);
      const known = knownOf(bytes)!;
      const read = streamedSpans(fileOf(bytes), known, () => undefined);
      const whole = wholeRead(bytes, known, () => undefined)!;
      expect(read && { groups: read.groups, differing: read.differing.map((d) => d.digest), sha256: read.stamp.sha256, size: read.stamp.size }).toEqual({
        ...whole,
        differing: whole.differing.map((d) => d.digest),
      });
      expect(read!.differing.map((d) => d.text).join() === whole.differing.map((d) => d.text).join()).toBe(true);
      expect(read!.differing.map((d) => (JSON.parse(d.text) as { id: string }).id)).toEqual(groups.map((g) => g.id));
    }
    // the buffer those grew is read into again: nothing of the files before shows through
    const random = seededRandom(43);
    for (let i = 0; i < 50; i++) {
      const bytes = Buffer.from(documentOf(random).text);
      const known = knownOf(bytes)!;
      const read = streamedSpans(fileOf(bytes), known, () => undefined);
      expect(read && { groups: read.groups, differing: read.differing, sha256: read.stamp.sha256, size: read.stamp.size }).toEqual(
        wholeRead(bytes, known, () => undefined),
      );
    }
  });
});

describe('the changes of a single file whose users are kept, read in pieces', () => {
  const directory = (groups: { id: string; members: string[] }[]) =>
    JSON.stringify({ users: [{ id: 'u1' }, { id: 'u2' }], groups: groups.map((g) => ({ displayName: `team ${g.id}`, ...g })) });
  const before = [
    { id: 'g1', members: ['u1'] },
    { id: 'g2', members: ['u1', 'u2'] },
    { id: 'g3', members: [] },
  ];
  const setUp = () => {
    const file = fileOf(directory(before));
    const was = readStamped(file);
    const spans = spansOf(was.bytes)!;
    const heads = new Map<string, Head>(
      before.map((g, pos) => [
        g.id,
        { displayName: `team ${g.id}`, nested: [], data: { file, pos, print: '', size: 0, row: '', span: spanDigest(was.bytes, spans.groups[pos]!) } },
      ]),
    );
    const kept = { digest: spanDigest(was.bytes, spans.users), length: spans.users[1] - spans.users[0] };
    return { file, was: was.stamp, heads, kept, cursor: { v: 1 as const, users: {}, usersBytes: kept.digest } };
  };

  it('are the groups whose bytes changed, at their places, with the stamp of the bytes read', () => {
    const { file, was, heads, kept, cursor } = setUp();
    writeFileSync(file, directory([before[0]!, { id: 'g2', members: ['u2'] }, { id: 'g3', members: ['u1'] }]));
    const found = streamedChanges(file, was, heads, cursor, kept)!;
    expect([...found.changed!.groups.values()].map((g) => [g.id, g.members])).toEqual([
      ['g2', ['u2']],
      ['g3', ['u1']],
    ]);
    expect([...found.changed!.places].map(([id, p]) => [id, p.pos])).toEqual([
      ['g2', 1],
      ['g3', 2],
    ]);
    expect(found.stamp.sha256).toBe(readStamped(file).stamp.sha256);
    expect(found.changed!.users).toBeUndefined();
  });

  it('are none for the same bytes written again, and give up on a group added, moved, renamed to another id or removed', () => {
    const { file, was, heads, kept, cursor } = setUp();
    writeFileSync(file, directory(before));
    expect(streamedChanges(file, was, heads, cursor, kept)).toMatchObject({ changed: { groups: new Map(), places: new Map() } });
    const added = [...before, { id: 'g4', members: [] }];
    const swapped = [before[1]!, before[0]!, before[2]!];
    const renamed = [before[0]!, { id: 'g9', members: ['u1', 'u2'] }, before[2]!];
    for (const groups of [added, swapped, renamed, before.slice(0, 2)]) {
      writeFileSync(file, directory(groups));
      const found = streamedChanges(file, was, heads, cursor, kept);
      expect(found?.stamp.sha256).toBe(readStamped(file).stamp.sha256);
      expect(found?.changed).toBeUndefined();
    }
  });

  it('are none, the file unread, when its stat says it is the file stamped', () => {
    const { file, was, heads, kept, cursor } = setUp();
    // stamped long enough after its last change for its change time to be trusted
    const trusted = { ...was, statAt: Date.now() + 10_000 };
    expect(streamedChanges(file, trusted, heads, cursor, kept)?.stamp).toBe(trusted);
    expect(streamedChanges(file, was, heads, cursor, kept)?.stamp).not.toBe(was);
  });

  it('are left to a whole read when the users changed or the store keeps other users bytes', () => {
    const { file, was, heads, kept, cursor } = setUp();
    writeFileSync(file, directory(before).replace('"u2"}]', '"u2","title":"new"}]'));
    expect(streamedChanges(file, was, heads, cursor, kept)).toBeUndefined();
    writeFileSync(file, directory([{ id: 'g1', members: [] }, ...before.slice(1)]));
    expect(streamedChanges(file, was, heads, cursor, kept)?.changed?.groups.size).toBe(1);
    expect(streamedChanges(file, was, heads, { ...cursor, usersBytes: 'other' }, kept)).toBeUndefined();
    expect(streamedChanges(file, was, heads, cursor, undefined)).toBeUndefined();
  });
});
