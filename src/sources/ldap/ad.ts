import { first, type LdapEntry } from './entry.js';

/** userAccountControl's ACCOUNTDISABLE flag (MS-ADTS 2.2.16) */
const ACCOUNTDISABLE = 0x2;

/**
 * objectGUID's 16 bytes in the string form AD tools show: the first three fields are stored
 * little-endian, the last two as they are (MS-DTYP 2.3.4). `{…}`-less, lower case.
 */
export function guidString(bytes: Buffer): string | undefined {
  if (bytes.length !== 16) return undefined;
  const hex = (b: Buffer) => b.toString('hex');
  const le = (from: number, to: number) => hex(Buffer.from(bytes.subarray(from, to)).reverse());
  return `${le(0, 4)}-${le(4, 6)}-${le(6, 8)}-${hex(bytes.subarray(8, 10))}-${hex(bytes.subarray(10, 16))}`;
}

/** attributes that hold bytes, shown in their usual string form */
const BINARY_IDS: Record<string, (b: Buffer) => string | undefined> = {
  objectguid: guidString,
};

/** the value of an id attribute (objectGUID in its string form, any other as its first value) */
export function idValue(entry: LdapEntry, attribute: string): string | undefined {
  const name = attribute.toLowerCase();
  if (name === 'dn') return entry.dn;
  const binary = BINARY_IDS[name];
  if (binary) {
    const bytes = entry.attrs.get(name)?.buffers[0];
    return bytes ? binary(bytes) : undefined;
  }
  return first(entry, attribute);
}

export function isBinaryId(attribute: string): boolean {
  return attribute.toLowerCase() in BINARY_IDS;
}

/** true when AD's userAccountControl says the account is disabled; undefined without the attribute */
export function disabledByAccountControl(entry: LdapEntry): boolean | undefined {
  const raw = first(entry, 'userAccountControl');
  if (raw === undefined || !/^-?\d+$/.test(raw)) return undefined;
  return (Number(raw) & ACCOUNTDISABLE) !== 0;
}
