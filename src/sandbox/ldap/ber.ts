/**
 * The part of BER (X.690) that LDAP messages use: one-byte tags, definite lengths, integers,
 * octet strings, booleans, enumerations and constructed values. Written for the sandbox on its
 * own, so that it shares nothing with the client library it answers.
 */
export interface Tlv {
  tag: number;
  /** the content bytes */
  value: Buffer;
  /** offset just after this value in the buffer it was read from */
  next: number;
}

export class BerError extends Error {}

/** one value at `offset`, or undefined when the buffer ends before it does */
export function readTlv(buf: Buffer, offset = 0): Tlv | undefined {
  if (offset + 2 > buf.length) return undefined;
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new BerError('multi-byte tags are not used by LDAP');
  let len = buf[offset + 1]!;
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new BerError('indefinite or oversized length');
    if (start + n > buf.length) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  if (start + len > buf.length) return undefined;
  return { tag, value: buf.subarray(start, start + len), next: start + len };
}

/** the values inside a constructed value */
export function children(value: Buffer): Tlv[] {
  const out: Tlv[] = [];
  let at = 0;
  while (at < value.length) {
    const t = readTlv(value, at);
    if (!t) throw new BerError('a constructed value ends inside its last element');
    out.push(t);
    at = t.next;
  }
  return out;
}

export function toInt(value: Buffer): number {
  if (value.length === 0 || value.length > 6) throw new BerError('integer of unusable size');
  let n = 0;
  for (const b of value) n = n * 256 + b;
  return value[0]! & 0x80 ? n - 256 ** value.length : n;
}

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(value.length), value]);
}

export const seq = (tag: number, ...parts: Buffer[]) => tlv(tag, Buffer.concat(parts));
export const str = (s: string | Buffer, tag = 0x04) => tlv(tag, typeof s === 'string' ? Buffer.from(s, 'utf8') : s);
export const bool = (b: boolean, tag = 0x01) => tlv(tag, Buffer.from([b ? 0xff : 0x00]));

export function int(n: number, tag = 0x02): Buffer {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v !== 0 && v !== -1);
  // keep the sign bit right: a positive value whose top bit is set needs a leading zero
  if (n >= 0 && bytes[0]! & 0x80) bytes.unshift(0);
  if (n < 0 && !(bytes[0]! & 0x80)) bytes.unshift(0xff);
  return tlv(tag, Buffer.from(bytes));
}

export const enumerated = (n: number) => int(n, 0x0a);
