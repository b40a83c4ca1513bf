import { BerError, bool, children, enumerated, int, readTlv, seq, str, toInt, type Tlv } from './ber.js';
import { decodeFilter, type Filter } from './filter.js';

/** RFC 4511 §4: the protocol operations the sandbox reads, by their [APPLICATION n] tags */
const BIND = 0x60;
const UNBIND = 0x42;
const SEARCH = 0x63;
const ABANDON = 0x50;
const EXTENDED = 0x77;

export const PAGED_RESULTS = '1.2.840.113556.1.4.319';

export interface Control {
  oid: string;
  critical: boolean;
  value?: Buffer;
}

export type Request =
  | { op: 'bind'; id: number; version: number; name: string; password: string | undefined; controls: Control[] }
  | { op: 'unbind'; id: number }
  | { op: 'abandon'; id: number }
  | { op: 'extended'; id: number; name: string; controls: Control[] }
  | {
      op: 'search';
      id: number;
      base: string;
      scope: 0 | 1 | 2;
      sizeLimit: number;
      timeLimit: number;
      typesOnly: boolean;
      filter: Filter;
      attributes: string[];
      controls: Control[];
    }
  | { op: 'other'; id: number; tag: number };

/** one LDAPMessage from the front of `buf`, or undefined when it has not all arrived yet */
export function readMessage(buf: Buffer): { request: Request; next: number } | undefined {
  const outer = readTlv(buf);
  if (!outer) return undefined;
  if (outer.tag !== 0x30) throw new BerError('an LDAPMessage is a SEQUENCE');
  const [idTlv, opTlv, controlsTlv] = children(outer.value);
  if (!idTlv || !opTlv) throw new BerError('an LDAPMessage needs a messageID and an operation');
  const id = toInt(idTlv.value);
  const controls = controlsTlv?.tag === 0xa0 ? children(controlsTlv.value).map(decodeControl) : [];
  return { request: decodeOp(id, opTlv, controls), next: outer.next };
}

function decodeControl(t: Tlv): Control {
  const parts = children(t.value);
  const oid = parts[0]!.value.toString('utf8');
  const critical = parts[1]?.tag === 0x01 ? parts[1].value[0] !== 0 : false;
  const value = parts.find((p, i) => i > 0 && p.tag === 0x04)?.value;
  return { oid, critical, ...(value ? { value } : {}) };
}

function decodeOp(id: number, t: Tlv, controls: Control[]): Request {
  switch (t.tag) {
    case BIND: {
      const [version, name, auth] = children(t.value);
      return {
        op: 'bind',
        id,
        version: toInt(version!.value),
        name: name!.value.toString('utf8'),
        password: auth?.tag === 0x80 ? auth.value.toString('utf8') : undefined,
        controls,
      };
    }
    case UNBIND:
      return { op: 'unbind', id };
    case ABANDON:
      return { op: 'abandon', id };
    case EXTENDED:
      return { op: 'extended', id, name: children(t.value)[0]?.value.toString('utf8') ?? '', controls };
    case SEARCH: {
      const [base, scope, , sizeLimit, timeLimit, typesOnly, filter, attributes] = children(t.value);
      if (!attributes) throw new BerError('a SearchRequest has eight parts');
      return {
        op: 'search',
        id,
        base: base!.value.toString('utf8'),
        scope: toInt(scope!.value) as 0 | 1 | 2,
        sizeLimit: toInt(sizeLimit!.value),
        timeLimit: toInt(timeLimit!.value),
        typesOnly: typesOnly!.value[0] !== 0,
        filter: decodeFilter(filter!),
        attributes: children(attributes.value).map((a) => a.value.toString('utf8')),
        controls,
      };
    }
    default:
      return { op: 'other', id, tag: t.tag };
  }
}

function message(id: number, op: Buffer, controls: Control[] = []): Buffer {
  const encoded = controls.map((c) => seq(0x30, str(c.oid), ...(c.critical ? [bool(true)] : []), ...(c.value ? [str(c.value)] : [])));
  return seq(0x30, int(id), op, ...(controls.length > 0 ? [seq(0xa0, ...encoded)] : []));
}

function ldapResult(code: number, diagnostic: string, matchedDn = ''): Buffer[] {
  return [enumerated(code), str(matchedDn), str(diagnostic)];
}

/** an LDAPResult under the response tag `tag` */
export const response = (id: number, tag: number, code: number, diagnostic = '') => message(id, seq(tag, ...ldapResult(code, diagnostic)));

export const bindResponse = (id: number, code: number, diagnostic = '') => response(id, 0x61, code, diagnostic);

export const extendedResponse = (id: number, code: number, diagnostic: string) => response(id, 0x78, code, diagnostic);

/** the response tag of a request the sandbox does not serve (modify, add, delete, modify DN, compare) */
export function responseTagOf(requestTag: number): number {
  return requestTag === 0x4a ? 0x6b : (requestTag | 0x20) + 1;
}

export interface EntryAttribute {
  type: string;
  values: Buffer[];
}

export const searchEntry = (id: number, dn: string, attributes: EntryAttribute[]) =>
  message(id, seq(0x64, str(dn), seq(0x30, ...attributes.map((a) => seq(0x30, str(a.type), seq(0x31, ...a.values.map((v) => str(v))))))));

export const searchReference = (id: number, uris: string[]) => message(id, seq(0x73, ...uris.map((u) => str(u))));

export const searchDone = (id: number, code: number, diagnostic = '', controls: Control[] = []) =>
  message(id, seq(0x65, ...ldapResult(code, diagnostic)), controls);

/** RFC 2696: realSearchControlValue ::= SEQUENCE { size INTEGER, cookie OCTET STRING } */
export function pagedValue(size: number, cookie: Buffer): Buffer {
  return seq(0x30, int(size), str(cookie));
}

export function readPaged(value: Buffer | undefined): { size: number; cookie: Buffer } {
  const outer = value && readTlv(value);
  if (!outer || outer.tag !== 0x30) throw new BerError('the paged-results control value is not a SEQUENCE');
  const [size, cookie] = children(outer.value);
  if (!size || !cookie) throw new BerError('the paged-results control value needs a size and a cookie');
  return { size: toInt(size.value), cookie: Buffer.from(cookie.value) };
}
