import { describe, expect, it } from 'vitest';
import { halfSipHash64 } from '../../src/sources/keyed-hash.js';

/** the reference's key (bytes 0…7) and input (bytes 0, 1, 2, …), as words and UTF-16 code units, little-endian */
const K0 = 0x03020100;
const K1 = 0x07060504;
const input = (bytes: number) => String.fromCharCode(...Array.from({ length: bytes / 2 }, (_, i) => (2 * i) | ((2 * i + 1) << 8)));
const hex = (words: [number, number]) => Buffer.from(Int32Array.from(words).buffer).toString('hex');

describe('HalfSipHash-2-4, 64-bit answer', () => {
  // veorq/SipHash vectors.h, vectors_hsip64: an even number of bytes is read alike as bytes and as code units
  const vectors: [number, string][] = [
    [0, '218d1f59b9b83cc8'],
    [2, '064f39ef7c50eb57'],
    [4, 'd5e78a175be52ea1'],
    [6, 'ce3e91358aa2bc25'],
    [60, 'd6762890bf26e460'],
    [62, 'f90b3ab572d46693'],
  ];
  for (const [bytes, expected] of vectors)
    it(`answers the reference's vector for ${bytes} bytes`, () => {
      expect(hex(halfSipHash64(K0, K1, input(bytes)))).toBe(expected);
    });

  it('tells apart texts a code unit apart, a trailing zero unit, code units past 0x7fff, and keys', () => {
    const answers = new Set(['', 'a', 'a\0', 'b', 'ab', 'ba', 'abc', '\uffff', '\u8000', '\ud800', 'é', 'e\u0301'].map((t) => hex(halfSipHash64(K0, K1, t))));
    expect(answers.size).toBe(12);
    expect(hex(halfSipHash64(K0, K1, 'text'))).not.toBe(hex(halfSipHash64(K0, K1 ^ 1, 'text')));
    expect(hex(halfSipHash64(K0 ^ 0x80000000, K1, 'text'))).not.toBe(hex(halfSipHash64(K0, K1, 'text')));
    // the same text, the same answer, whatever was hashed between
    const first = hex(halfSipHash64(K0, K1, 'again'));
    halfSipHash64(1, 2, 'x'.repeat(1001));
    expect(hex(halfSipHash64(K0, K1, 'again'))).toBe(first);
  });
});
