import { randomBytes } from 'node:crypto';

export interface AdAttribute {
  /** the schema's spelling, which AD answers with whatever the request said */
  name: string;
  values: Buffer[];
}

export interface AdEntry {
  dn: string;
  attrs: Map<string, AdAttribute>;
}

/** userAccountControl of a normal account, and of a disabled one (ACCOUNTDISABLE, 0x2) */
export const NORMAL_ACCOUNT = 0x200;
export const ACCOUNT_DISABLED = 0x2;

/** MS-DTYP 2.3.4: Data1–Data3 little-endian, Data4 as stored; the form AD tools print */
export function guidText(b: Buffer): string {
  const h = (n: number, width: number) => n.toString(16).padStart(width, '0');
  const tail = b.subarray(8).toString('hex');
  return `${h(b.readUInt32LE(0), 8)}-${h(b.readUInt16LE(4), 4)}-${h(b.readUInt16LE(6), 4)}-${tail.slice(0, 4)}-${tail.slice(4)}`;
}

const norm = (dn: string) => dn.replace(/\s*([,=])\s*/g, '$1').toLowerCase();

/**
 * The entries of a small Active Directory domain: users and groups under one naming context, each
 * with its objectGUID (16 random bytes), uSNCreated/uSNChanged from one update sequence, and
 * whenChanged. Every change takes the next USN, as on a domain controller.
 */
export class AdDirectory {
  private readonly entries = new Map<string, AdEntry>();
  /** highestCommittedUSN */
  usn = 12_000;

  constructor(readonly baseDn: string) {}

  get(dn: string): AdEntry | undefined {
    return this.entries.get(norm(dn));
  }

  all(): IterableIterator<AdEntry> {
    return this.entries.values();
  }

  add(dn: string, attrs: Record<string, (string | Buffer)[]>): AdEntry {
    if (this.entries.has(norm(dn))) throw new Error(`entry exists: ${dn}`);
    const entry: AdEntry = { dn, attrs: new Map() };
    for (const [name, vals] of Object.entries(attrs)) this.set(entry, name, vals);
    this.set(entry, 'objectGUID', [randomBytes(16)]);
    this.usn++;
    this.set(entry, 'uSNCreated', [String(this.usn)]);
    this.stamp(entry);
    this.entries.set(norm(dn), entry);
    return entry;
  }

  /** changes one entry and gives it the next USN */
  modify(dn: string, change: (e: AdEntry) => void): void {
    const entry = this.get(dn);
    if (!entry) throw new Error(`no such entry: ${dn}`);
    change(entry);
    this.usn++;
    this.stamp(entry);
  }

  /**
   * Renames or moves an entry (modrdn; it keeps its objectGUID and takes the next USN). Links to it
   * follow it, as AD's linked attributes do, without changing the groups' uSNChanged.
   */
  rename(dn: string, newDn: string): void {
    const entry = this.get(dn);
    if (!entry || this.entries.has(norm(newDn))) throw new Error(`cannot rename ${dn} to ${newDn}`);
    this.entries.delete(norm(dn));
    entry.dn = newDn;
    this.entries.set(norm(newDn), entry);
    this.usn++;
    this.stamp(entry);
    for (const e of this.entries.values()) {
      const member = e.attrs.get('member');
      if (member) member.values = member.values.map((v) => (norm(v.toString('utf8')) === norm(dn) ? Buffer.from(newDn) : v));
    }
  }

  /**
   * Removes an entry (the deletion takes the next USN). Links to it go with it: no group lists it
   * any more, and those groups keep their uSNChanged, so only a listing shows the deletion.
   */
  delete(dn: string): void {
    if (!this.entries.delete(norm(dn))) throw new Error(`no such entry: ${dn}`);
    this.usn++;
    for (const e of this.entries.values()) {
      const member = e.attrs.get('member');
      if (member?.values.some((v) => norm(v.toString('utf8')) === norm(dn))) member.values = member.values.filter((v) => norm(v.toString('utf8')) !== norm(dn));
    }
  }

  set(entry: AdEntry, name: string, vals: (string | Buffer)[]): void {
    entry.attrs.set(name.toLowerCase(), { name, values: vals.map((v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v)) });
  }

  values(entry: AdEntry, name: string): string[] {
    if (name.toLowerCase() === 'distinguishedname') return [entry.dn];
    return (entry.attrs.get(name.toLowerCase())?.values ?? []).map((v) => v.toString('utf8'));
  }

  /** entries in scope of `base`: 0 the base itself, 1 its children, 2 the whole subtree */
  inScope(base: string, scope: 0 | 1 | 2): AdEntry[] {
    const b = norm(base);
    const out: AdEntry[] = [];
    for (const [dn, e] of this.entries) {
      if (scope === 0 ? dn === b : scope === 1 ? dn.endsWith(`,${b}`) && !dn.slice(0, -b.length - 1).includes(',') : dn === b || dn.endsWith(`,${b}`))
        out.push(e);
    }
    return out;
  }

  private stamp(entry: AdEntry): void {
    this.set(entry, 'uSNChanged', [String(this.usn)]);
    // GeneralizedTime as AD writes it: YYYYMMDDHHMMSS.0Z
    this.set(entry, 'whenChanged', [`${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}.0Z`]);
  }
}
