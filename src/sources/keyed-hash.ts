/**
 * HalfSipHash-2-4 with a 64-bit answer (Aumasson and Bernstein's SipHash on 32-bit words) of a
 * string's UTF-16LE bytes: its code units, two to a word, as the reference reads those bytes. A keyed
 * hash: without the key, no one can tell what it answers for a text, so no one can look for texts
 * that answer alike.
 */
export function halfSipHash64(k0: number, k1: number, text: string): [number, number] {
  const v = state;
  v[0] = k0;
  v[1] = k1 ^ 0xee;
  v[2] = 0x6c796765 ^ k0;
  v[3] = 0x74656462 ^ k1;
  const n = text.length;
  for (let i = 0; i + 1 < n; i += 2) compress(text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16));
  // the length in bytes, modulo 256, in the top byte of the last word
  compress(((n * 2) << 24) | (n % 2 === 1 ? text.charCodeAt(n - 1) : 0));
  v[2] = v[2]! ^ 0xee;
  rounds(4);
  const first = v[1]! ^ v[3]!;
  v[1] = v[1]! ^ 0xdd;
  rounds(4);
  return [first, v[1]! ^ v[3]!];
}

/** v0…v3: one hash at a time, without an array made for each */
const state = new Int32Array(4);

function compress(m: number): void {
  state[3] = state[3]! ^ m;
  rounds(2);
  state[0] = state[0]! ^ m;
}

function rounds(n: number): void {
  let v0 = state[0]!;
  let v1 = state[1]!;
  let v2 = state[2]!;
  let v3 = state[3]!;
  for (let i = 0; i < n; i++) {
    v0 = (v0 + v1) | 0;
    v1 = rotl(v1, 5) ^ v0;
    v0 = rotl(v0, 16);
    v2 = (v2 + v3) | 0;
    v3 = rotl(v3, 8) ^ v2;
    v0 = (v0 + v3) | 0;
    v3 = rotl(v3, 7) ^ v0;
    v2 = (v2 + v1) | 0;
    v1 = rotl(v1, 13) ^ v2;
    v2 = rotl(v2, 16);
  }
  state[0] = v0;
  state[1] = v1;
  state[2] = v2;
  state[3] = v3;
}

function rotl(x: number, b: number): number {
  return (x << b) | (x >>> (32 - b));
}
