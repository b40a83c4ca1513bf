/** One directory entry as read: its DN and its attributes by lower-cased name (LDAP names are case-insensitive). */
export interface LdapEntry {
  dn: string;
  attrs: Map<string, LdapAttribute>;
}

export interface LdapAttribute {
  /** the name as the server spelt it, options included (`member;range=0-1499`) */
  type: string;
  values: string[];
  /** the same values as bytes, for binary attributes such as objectGUID */
  buffers: Buffer[];
}

export function values(entry: LdapEntry, name: string): string[] {
  return entry.attrs.get(name.toLowerCase())?.values ?? [];
}

export function first(entry: LdapEntry, name: string): string | undefined {
  const v = values(entry, name)[0];
  return v === undefined || v === '' ? undefined : v;
}

/**
 * A DN in one comparable form: attribute types and values lower-cased, blanks around `,`, `=` and
 * `+` dropped, hex escapes of printable characters decoded. Member values are written by people and
 * tools; the entry's own DN by the server: the two spellings of one DN must meet.
 */
export function dnKey(dn: string): string {
  // most DNs have neither escapes nor blanks: lower case is all they need
  if (!/[\\ ]/.test(dn)) return dn.toLowerCase();
  const out: string[] = [];
  let rdn = '';
  let i = 0;
  const flush = () => {
    // blanks around an RDN are dropped, an escaped one (`cn=x\ `, kept as `\ `) is part of the value
    let end = rdn.length;
    while (end > 0 && rdn[end - 1] === ' ' && !escapedAt(rdn, end - 1)) end--;
    out.push(rdn.slice(0, end).trimStart());
    rdn = '';
  };
  while (i < dn.length) {
    const c = dn[i]!;
    if (c === '\\' && i + 1 < dn.length) {
      // a run of hex escapes is the UTF-8 bytes of its characters (RFC 4514 §2.4): `\C3\A9` is one é
      const bytes: number[] = [];
      while (dn[i] === '\\' && /^[0-9a-fA-F]{2}$/.test(dn.slice(i + 1, i + 3))) {
        bytes.push(parseInt(dn.slice(i + 1, i + 3), 16));
        i += 3;
      }
      const chars = bytes.length > 0 ? Buffer.from(bytes).toString('utf8') : dn[i + 1]!;
      if (bytes.length === 0) i += 2;
      for (const ch of chars) rdn += ',=+<>#;\\" '.includes(ch) ? `\\${ch}` : ch;
      continue;
    }
    if (c === ',') flush();
    else if (c === '=' || c === '+') rdn = `${rdn.trimEnd()}${c}`;
    else if (c === ' ' && /[=+]$/.test(rdn)) {
      // blank after a separator: dropped
    } else rdn += c;
    i++;
  }
  flush();
  return out.join(',').toLowerCase();
}

/** whether the character at `i` follows an odd number of backslashes */
function escapedAt(s: string, i: number): boolean {
  let n = 0;
  while (i - n - 1 >= 0 && s[i - n - 1] === '\\') n++;
  return n % 2 === 1;
}

/** `uniqueMember` values may carry an optional `#'0101'B` uid after the DN (RFC 4517 nameAndOptionalUID) */
export function memberDn(value: string): string {
  if (!value.endsWith("'B")) return value;
  const m = /^(.*[^\\])#'[01]*'B$/.exec(value);
  return m ? m[1]! : value;
}
