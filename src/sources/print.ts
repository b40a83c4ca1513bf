import type { DesiredGroup, SourceUser } from './types.js';

/**
 * The print of a group's members: each member with all their attributes, in any order. Each
 * member's print is two 32-bit lanes over their JSON text (multiply-xor, not a cryptographic hash:
 * a print only has to change when its members do, and a SHA-1 over a million memberships took a
 * second), mixed, and the group's print is their count and sums. A sum can be updated by the
 * members that came and went (`updatedMembersPrint`), so a group that gained one member is printed
 * without reading the others. `call` is one object per batch of groups: a user in many groups is
 * printed once per batch, the print left on the user object (a map from user to print cost several
 * times as much).
 */
export function membersPrint(members: readonly SourceUser[], call: object): string {
  let a = 0;
  let b = 0;
  for (const m of members) {
    printMember(m, call);
    a = (a + m.printedA!) | 0;
    b = (b + m.printedB!) | 0;
  }
  return sumsText(members.length, a, b);
}

/**
 * A members' print after some members left and others came, or undefined when the print is not
 * one of sums (stored by an earlier version) or counts fewer members than left.
 */
export function updatedMembersPrint(print: string, left: readonly SourceUser[], came: readonly SourceUser[]): string | undefined {
  const sums = SUMS.exec(print);
  if (!sums) return undefined;
  const count = parseInt(sums[1]!, 36) - left.length + came.length;
  if (count < came.length) return undefined;
  let a = parseInt(sums[2]!, 36) | 0;
  let b = parseInt(sums[3]!, 36) | 0;
  const call = {};
  for (const m of left) {
    printMember(m, call);
    a = (a - m.printedA!) | 0;
    b = (b - m.printedB!) | 0;
  }
  for (const m of came) {
    printMember(m, call);
    a = (a + m.printedA!) | 0;
    b = (b + m.printedB!) | 0;
  }
  return sumsText(count, a, b);
}

const SUMS = /^([0-9a-z]+)~([0-9a-z]+)~([0-9a-z]+)$/;

function sumsText(count: number, a: number, b: number): string {
  return `${count.toString(36)}~${(a >>> 0).toString(36)}~${(b >>> 0).toString(36)}`;
}

/** a member's lanes, mixed (each bit of the text moves half of the bits: sums of unmixed lanes would cancel), left on the user for this call */
function printMember(m: SourceUser, call: object): void {
  if (m.printedBy === call) return;
  // the other fields of a source's user (userName, emails, …) are read from `raw` by its configuration
  const own = new Lanes().text(textOf([m.id, m.active, m.raw]));
  m.printedBy = call;
  m.printedA = fmix(own.a);
  m.printedB = fmix(own.b ^ m.printedA);
}

/** MurmurHash3's finalizer */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** the print of a group's own fields (name, flags) */
export function headPrint(g: Pick<DesiredGroup, 'source' | 'id' | 'displayName' | 'complete' | 'unknownReason' | 'unknownIsReadError' | 'suspect'>): string {
  return new Lanes()
    .text(JSON.stringify([g.source, g.id, g.displayName, g.complete, g.unknownReason ?? null, g.unknownIsReadError ?? null, g.suspect ?? false]))
    .print();
}

/** JSON text in which the numbers JSON cannot write (NaN, ±Infinity: YAML's .nan and .inf, JSON's 1e400) stay apart from null and each other */
export function textOf(value: unknown): string {
  const text = JSON.stringify(value);
  // only a text with a null can hide one: the others are not made twice
  return text.includes('null') ? JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? `\u0001${v}` : v)) : text;
}

/** two 32-bit multiply-xor lanes */
class Lanes {
  a = 0x811c9dc5 | 0;
  b = 0x9e3779b9 | 0;

  text(text: string): this {
    let a = this.a;
    let b = this.b;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x85ebca6b);
    }
    this.a = a;
    this.b = b;
    return this;
  }

  print(): string {
    const a = Math.imul(this.a ^ (this.a >>> 15), 0x2c1b3c6d) ^ this.b;
    const b = Math.imul(this.b ^ (this.b >>> 13), 0x297a2d39) ^ a;
    return `${(a >>> 0).toString(36)}.${(b >>> 0).toString(36)}`;
  }
}
