import { BerError, children, type Tlv } from './ber.js';

/** RFC 4511 §4.5.1.7 filters, as the sandbox evaluates them */
export type Filter =
  | { kind: 'and' | 'or'; of: Filter[] }
  | { kind: 'not'; of: Filter }
  | { kind: 'eq' | 'ge' | 'le' | 'approx'; attr: string; value: string }
  | { kind: 'present'; attr: string }
  | { kind: 'substr'; attr: string; initial?: string; any: string[]; final?: string }
  | { kind: 'ext'; rule?: string; attr?: string; value: string };

const text = (t: Tlv) => t.value.toString('utf8');

export function decodeFilter(t: Tlv): Filter {
  const parts = () => children(t.value);
  switch (t.tag) {
    case 0xa0:
      return { kind: 'and', of: parts().map(decodeFilter) };
    case 0xa1:
      return { kind: 'or', of: parts().map(decodeFilter) };
    case 0xa2:
      return { kind: 'not', of: decodeFilter(parts()[0]!) };
    case 0xa3:
    case 0xa5:
    case 0xa6:
    case 0xa8: {
      const [attr, value] = parts();
      const kind = ({ 0xa3: 'eq', 0xa5: 'ge', 0xa6: 'le', 0xa8: 'approx' } as const)[t.tag];
      return { kind, attr: text(attr!), value: text(value!) };
    }
    case 0x87:
      return { kind: 'present', attr: text(t) };
    case 0xa4: {
      const [attr, subs] = parts();
      const f: Filter = { kind: 'substr', attr: text(attr!), any: [] };
      for (const s of children(subs!.value)) {
        if (s.tag === 0x80) f.initial = text(s);
        else if (s.tag === 0x81) f.any.push(text(s));
        else if (s.tag === 0x82) f.final = text(s);
      }
      return f;
    }
    case 0xa9: {
      const f: Filter = { kind: 'ext', value: '' };
      for (const p of parts()) {
        if (p.tag === 0x81) f.rule = text(p);
        else if (p.tag === 0x82) f.attr = text(p);
        else if (p.tag === 0x83) f.value = text(p);
      }
      return f;
    }
    default:
      throw new BerError(`unknown filter choice 0x${t.tag.toString(16)}`);
  }
}

/** AD's bitwise matching rules (MS-ADTS 3.1.1.3.1.3.3): AND and OR on integer attributes */
const BIT_AND = '1.2.840.113556.1.4.803';
const BIT_OR = '1.2.840.113556.1.4.804';

export type ValuesOf = (attr: string) => string[];

function compare(a: string, b: string): number {
  if (/^-?\d+$/.test(a) && /^-?\d+$/.test(b)) return Number(a) - Number(b);
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

/** objectCategory=person means the category whose first RDN is "person", as AD allows */
function equals(attr: string, have: string, want: string): boolean {
  if (attr.toLowerCase() === 'objectcategory' && !want.includes('=')) return /^cn=([^,]+)/i.exec(have)?.[1]?.toLowerCase() === want.toLowerCase();
  return have.toLowerCase() === want.toLowerCase();
}

function substring(v: string, f: Extract<Filter, { kind: 'substr' }>): boolean {
  let rest = v.toLowerCase();
  if (f.initial !== undefined) {
    if (!rest.startsWith(f.initial.toLowerCase())) return false;
    rest = rest.slice(f.initial.length);
  }
  for (const a of f.any) {
    const at = rest.indexOf(a.toLowerCase());
    if (at < 0) return false;
    rest = rest.slice(at + a.length);
  }
  return f.final === undefined || rest.endsWith(f.final.toLowerCase());
}

export function matches(f: Filter, valuesOf: ValuesOf): boolean {
  switch (f.kind) {
    case 'and':
      return f.of.every((x) => matches(x, valuesOf));
    case 'or':
      return f.of.some((x) => matches(x, valuesOf));
    case 'not':
      return !matches(f.of, valuesOf);
    case 'present':
      return valuesOf(f.attr).length > 0;
    case 'eq':
    case 'approx':
      return valuesOf(f.attr).some((v) => equals(f.attr, v, f.value));
    case 'ge':
      return valuesOf(f.attr).some((v) => compare(v, f.value) >= 0);
    case 'le':
      return valuesOf(f.attr).some((v) => compare(v, f.value) <= 0);
    case 'substr':
      return valuesOf(f.attr).some((v) => substring(v, f));
    case 'ext': {
      if (!f.attr || (f.rule !== BIT_AND && f.rule !== BIT_OR)) return false;
      const mask = Number(f.value);
      return valuesOf(f.attr).some((v) => (f.rule === BIT_AND ? (Number(v) & mask) === mask : (Number(v) & mask) !== 0));
    }
  }
}

/** the filter with every item on `attr` made one that any entry matches */
export function ignoring(f: Filter, attr: string): Filter {
  if (f.kind === 'and' || f.kind === 'or') return { kind: f.kind, of: f.of.map((x) => ignoring(x, attr)) };
  if (f.kind === 'not') return { kind: 'not', of: ignoring(f.of, attr) };
  return 'attr' in f && f.attr?.toLowerCase() === attr.toLowerCase() ? { kind: 'present', attr: 'objectClass' } : f;
}
