import type { DesiredGroup, SourceUser } from './types.js';

/**
 * The print of a group's members: each member with all their attributes, in the order read.
 * Multiply-xor lanes over JSON text, 64 bits, not a cryptographic hash: a print only has to change
 * when its members do, and a SHA-1 over a million memberships took a second. The text is made
 * natively (JSON.stringify) and walked in one tight loop, which costs half of walking the values in JS.
 * `call` is one object per batch of groups: a user in many groups is printed once per batch, the
 * print left on the user object (a map from user to print cost several times as much).
 */
export function membersPrint(members: readonly SourceUser[], call: object): string {
  const lanes = new Lanes();
  for (const m of members) {
    // the other fields of a source's user (userName, emails, …) are read from `raw` by its configuration
    if (m.printedBy !== call) {
      const own = new Lanes().text(textOf([m.id, m.active, m.raw]));
      m.printedBy = call;
      m.printedA = own.a;
      m.printedB = own.b;
    }
    lanes.mixLanes(m.printedA!, m.printedB!);
  }
  return lanes.print();
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

  /** another print's lanes, in order */
  mixLanes(a: number, b: number): void {
    this.a = Math.imul(this.a ^ a, 0x01000193);
    this.a ^= this.a >>> 15;
    this.b = Math.imul(this.b ^ b, 0x85ebca6b);
    this.b ^= this.b >>> 13;
  }

  print(): string {
    const a = Math.imul(this.a ^ (this.a >>> 15), 0x2c1b3c6d) ^ this.b;
    const b = Math.imul(this.b ^ (this.b >>> 13), 0x297a2d39) ^ a;
    return `${(a >>> 0).toString(36)}.${(b >>> 0).toString(36)}`;
  }
}
