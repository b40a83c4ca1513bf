import { halfSipHash64 } from './keyed-hash.js';
import type { DesiredGroup, SourceUser } from './types.js';

/**
 * The key of a store's prints (HalfSipHash's 64 bits, as two words). Prints are sums of each
 * member's keyed hash: with the key, which only the store holds, no one can make a changed group
 * print as it did before (members whose free attributes were chosen to make the sums meet again),
 * and so have a plan of what changed pass it over.
 */
export interface PrintKey {
  readonly k0: number;
  readonly k1: number;
}

/** a key as the store keeps it: 16 hex digits, read as two little-endian words */
export function printKeyOf(hex: string): PrintKey {
  if (!/^[0-9a-f]{16}$/.test(hex)) throw new Error('a print key is 16 lowercase hex digits');
  const word = (at: number) => Buffer.from(hex.slice(at, at + 8), 'hex').readInt32LE(0);
  return { k0: word(0), k1: word(8) };
}

/**
 * One per batch of groups: a user in many groups is printed once per batch, the batch left on the
 * user. The key is private to it: a user written out as JSON or logged carries no key.
 */
export class PrintBatch {
  readonly #key: PrintKey;

  constructor(key: PrintKey) {
    this.#key = key;
  }

  hash(text: string): [number, number] {
    return halfSipHash64(this.#key.k0, this.#key.k1, text);
  }
}

export function printBatch(key: PrintKey): PrintBatch {
  return new PrintBatch(key);
}

/**
 * The print of a group's members: each member with all their attributes, in any order. Each
 * member's print is the keyed hash of their JSON text, two 32-bit lanes, and the group's print is
 * their count and sums. A sum can be updated by the members that came and went
 * (`updatedMembersPrint`), so a group that gained one member is printed without reading the others.
 * The print is left on the user for the batch (a map from user to print cost several times as much).
 */
export function membersPrint(members: readonly SourceUser[], batch: PrintBatch): string {
  let a = 0;
  let b = 0;
  for (const m of members) {
    printMember(m, batch);
    a = (a + m.printedA!) | 0;
    b = (b + m.printedB!) | 0;
  }
  return sumsText(members.length, a, b);
}

/**
 * A members' print after some members left and others came, or undefined when the print is not
 * one of sums (stored by an earlier version) or counts fewer members than left.
 */
export function updatedMembersPrint(print: string, left: readonly SourceUser[], came: readonly SourceUser[], key: PrintKey): string | undefined {
  const sums = SUMS.exec(print);
  if (!sums) return undefined;
  const count = parseInt(sums[1]!, 36) - left.length + came.length;
  if (count < came.length) return undefined;
  let a = parseInt(sums[2]!, 36) | 0;
  let b = parseInt(sums[3]!, 36) | 0;
  const batch = printBatch(key);
  for (const m of left) {
    printMember(m, batch);
    a = (a - m.printedA!) | 0;
    b = (b - m.printedB!) | 0;
  }
  for (const m of came) {
    printMember(m, batch);
    a = (a + m.printedA!) | 0;
    b = (b + m.printedB!) | 0;
  }
  return sumsText(count, a, b);
}

const SUMS = /^([0-9a-z]+)~([0-9a-z]+)~([0-9a-z]+)$/;

function sumsText(count: number, a: number, b: number): string {
  return `${count.toString(36)}~${(a >>> 0).toString(36)}~${(b >>> 0).toString(36)}`;
}

function printMember(m: SourceUser, batch: PrintBatch): void {
  if (m.printedBy === batch) return;
  // the other fields of a source's user (userName, emails, …) are read from `raw` by its configuration
  const [a, b] = batch.hash(textOf([m.id, m.active, m.raw]));
  m.printedBy = batch;
  m.printedA = a;
  m.printedB = b;
}

/** the print of a group's own fields (name, flags) */
export function headPrint(
  g: Pick<DesiredGroup, 'source' | 'id' | 'displayName' | 'complete' | 'unknownReason' | 'unknownIsReadError' | 'suspect'>,
  key: PrintKey,
): string {
  const text = JSON.stringify([g.source, g.id, g.displayName, g.complete, g.unknownReason ?? null, g.unknownIsReadError ?? null, g.suspect ?? false]);
  const [a, b] = halfSipHash64(key.k0, key.k1, text);
  return `${(a >>> 0).toString(36)}.${(b >>> 0).toString(36)}`;
}

/** JSON text in which the numbers JSON cannot write (NaN, ±Infinity: YAML's .nan and .inf, JSON's 1e400) stay apart from null and each other */
export function textOf(value: unknown): string {
  const text = JSON.stringify(value);
  // only a text with a null can hide one: the others are not made twice
  return text.includes('null') ? JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? `\u0001${v}` : v)) : text;
}
