import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { NO_ATTRIBUTES, selectAttributes, WITHOUT_USN } from './attributes.js';
import { BerError } from './ber.js';
import { ACCOUNT_DISABLED, AdDirectory, guidText, NORMAL_ACCOUNT, type AdEntry } from './directory.js';
import { ignoring, matches } from './filter.js';
import {
  bindResponse,
  extendedResponse,
  PAGED_RESULTS,
  pagedValue,
  readMessage,
  readPaged,
  response,
  responseTagOf,
  searchDone,
  searchEntry,
  searchReference,
  type Request,
} from './messages.js';

type Search = Extract<Request, { op: 'search' }>;

/** Failures the sandbox can be told to produce; `base` limits one to searches under that DN. */
export interface AdFaults {
  /** page `page` of a paged search answers this result code (51 busy, 3 timeLimitExceeded, …) */
  failPage?: { base?: string; page: number; code: number };
  /** page `page` comes back empty with a cookie, as AD may: the search goes on */
  emptyPage?: { base?: string; page: number };
  /** page `page` comes back without the paged-results control */
  dropControl?: { base?: string; page: number };
  /** the search answers a continuation reference to another server besides its entries */
  referral?: { base?: string; uri: string };
  /** no answer at all (from page `page` of a paged search) */
  stall?: { base?: string; page?: number };
  /** requests for `attr;range=…` answer this result code */
  rangeFail?: { code: number };
  /** filter items on this attribute match every entry, as on a server that does not filter on it */
  ignoreFilter?: { attr: string };
}

export interface AdSandboxOptions {
  /** DNS name of the domain; the naming context is made of it (corp.example → DC=corp,DC=example) */
  domain?: string;
  /** AD's MaxPageSize (1000) and MaxValRange (1500) */
  maxPageSize?: number;
  maxValRange?: number;
  faults?: AdFaults;
  /** false: a server without update sequence numbers (no highestCommittedUSN, no uSNChanged) */
  usn?: boolean;
  /** the domain controller's name (USNs are its own): DC1 */
  dc?: string;
}

export interface AdSearchLog {
  base: string;
  filter: Search['filter'];
  attributes: string[];
  page?: number;
}

/** AD's own diagnostic texts, which operators search for */
const UNBOUND =
  '000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind must be completed on the connection., data 0, v4563';
const BAD_PASSWORD = '80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data 52e, v4563';
const NO_OBJECT = '0000208D: NameErr: DSID-0310028C, problem 2001 (NO_OBJECT), data 0, best match of:';
const BAD_COOKIE = '00000057: LdapErr: DSID-0C09080D, comment: Error processing control, data 0, v4563';

interface PagedState {
  dns: string[];
  offset: number;
  page: number;
}

/**
 * A small Active Directory domain controller over real LDAP on loopback, for what slapd cannot play:
 * objectGUID, userAccountControl, range retrieval of large `member` attributes, MaxPageSize, AD's
 * answers to an unbound search and a wrong password, and the failures in AdFaults.
 */
export class AdSandbox {
  readonly dir: AdDirectory;
  readonly baseDn: string;
  readonly bindDn: string;
  readonly password = 'ad-sandbox-password';
  readonly maxPageSize: number;
  readonly maxValRange: number;
  readonly usn: boolean;
  /** the domain controller, as its root DSE names it */
  readonly dsServiceName: string;
  faults: AdFaults;
  readonly searches: AdSearchLog[] = [];
  private readonly passwords = new Map<string, string>();
  private readonly paging = new Map<string, PagedState>();
  private readonly sockets = new Set<Socket>();
  url = '';

  private constructor(
    private readonly server: Server,
    opts: AdSandboxOptions,
  ) {
    const domain = opts.domain ?? 'corp.example';
    this.baseDn = domain
      .split('.')
      .map((p) => `DC=${p}`)
      .join(',');
    this.dir = new AdDirectory(this.baseDn);
    this.maxPageSize = opts.maxPageSize ?? 1000;
    this.maxValRange = opts.maxValRange ?? 1500;
    this.usn = opts.usn ?? true;
    this.dsServiceName = `CN=NTDS Settings,CN=${opts.dc ?? 'DC1'},CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,${this.baseDn}`;
    this.faults = opts.faults ?? {};
    for (const ou of ['Staff', 'Groups', 'Service Accounts', 'Other'])
      this.dir.add(`OU=${ou},${this.baseDn}`, { objectClass: ['top', 'organizationalUnit'], ou: [ou] });
    this.dir.add(this.baseDn, { objectClass: ['top', 'domain', 'domainDNS'] });
    this.bindDn = this.addUser({ name: 'convsync', ou: 'Service Accounts' }).dn;
    this.passwords.set(this.bindDn.toLowerCase(), this.password);
  }

  static async start(opts: AdSandboxOptions = {}): Promise<AdSandbox> {
    let sandbox: AdSandbox | undefined;
    const server = createServer((s) => sandbox!.serve(s));
    sandbox = new AdSandbox(server, opts);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    sandbox.url = `ldap://127.0.0.1:${(server.address() as { port: number }).port}`;
    return sandbox;
  }

  addUser(u: { name: string; mail?: string; disabled?: boolean; ou?: string; attributes?: Record<string, string[]> }): { dn: string; guid: string } {
    const dn = `CN=${u.name},OU=${u.ou ?? 'Staff'},${this.baseDn}`;
    const domain = this.baseDn.replace(/DC=/g, '').replace(/,/g, '.');
    const e = this.dir.add(dn, {
      objectClass: ['top', 'person', 'organizationalPerson', 'user'],
      objectCategory: [`CN=Person,CN=Schema,CN=Configuration,${this.baseDn}`],
      cn: [u.name],
      sAMAccountName: [u.name],
      userPrincipalName: [`${u.name}@${domain}`],
      displayName: [u.name],
      userAccountControl: [String(NORMAL_ACCOUNT | (u.disabled ? ACCOUNT_DISABLED : 0))],
      ...(u.mail ? { mail: [u.mail] } : {}),
      ...u.attributes,
    });
    return { dn, guid: this.guidOf(e) };
  }

  addGroup(g: { name: string; members: string[]; ou?: string }): { dn: string; guid: string } {
    const dn = `CN=${g.name},OU=${g.ou ?? 'Groups'},${this.baseDn}`;
    const e = this.dir.add(dn, {
      objectClass: ['top', 'group'],
      objectCategory: [`CN=Group,CN=Schema,CN=Configuration,${this.baseDn}`],
      cn: [g.name],
      sAMAccountName: [g.name],
      groupType: ['-2147483646'],
      ...(g.members.length > 0 ? { member: g.members } : {}),
    });
    return { dn, guid: this.guidOf(e) };
  }

  setMembers(groupDn: string, members: string[]): void {
    this.dir.modify(groupDn, (e) => this.dir.set(e, 'member', members));
  }

  /** deletes a user or a group (groups that listed it no longer do) */
  deleteEntry(dn: string): void {
    this.dir.delete(dn);
  }

  /** renames or moves an entry; groups that list it follow it, their uSNChanged unchanged */
  renameEntry(dn: string, newDn: string): void {
    this.dir.rename(dn, newDn);
  }

  setDisabled(userDn: string, disabled: boolean): void {
    this.dir.modify(userDn, (e) => this.dir.set(e, 'userAccountControl', [String(NORMAL_ACCOUNT | (disabled ? ACCOUNT_DISABLED : 0))]));
  }

  guidOf(e: AdEntry | string): string {
    const entry = typeof e === 'string' ? this.dir.get(e) : e;
    return guidText(entry!.attrs.get('objectguid')!.values[0]!);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const conn = { bound: false };
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      try {
        for (let m = readMessage(buf); m; m = readMessage(buf)) {
          buf = buf.subarray(m.next);
          const answer = this.answer(m.request, conn);
          if (answer === 'close') socket.end();
          else for (const b of answer) socket.write(b);
        }
      } catch (e) {
        // a message that does not parse ends the connection, as a server must (RFC 4511 §4.1.1)
        if (e instanceof BerError) socket.destroy();
        else throw e;
      }
    });
  }

  private answer(req: Request, conn: { bound: boolean }): Buffer[] | 'close' {
    switch (req.op) {
      case 'bind':
        return [this.bind(req, conn)];
      case 'unbind':
        return 'close';
      case 'abandon':
        return [];
      case 'extended':
        return [extendedResponse(req.id, 52, 'the AD sandbox offers no extended operations (StartTLS included)')];
      case 'search':
        return this.search(req, conn);
      default:
        return [response(req.id, responseTagOf(req.tag), 53, 'the AD sandbox only reads: writes go through its methods')];
    }
  }

  private bind(req: Extract<Request, { op: 'bind' }>, conn: { bound: boolean }): Buffer {
    if (req.version !== 3 && req.version !== 2) return bindResponse(req.id, 2, 'unsupported LDAP version');
    if (req.name === '' && !req.password) {
      conn.bound = false;
      return bindResponse(req.id, 0);
    }
    const byUpn = [...this.dir.all()].find((e) => this.dir.values(e, 'userPrincipalName').some((v) => v.toLowerCase() === req.name.toLowerCase()));
    const dn = (byUpn?.dn ?? req.name).toLowerCase();
    conn.bound = this.passwords.get(dn) !== undefined && this.passwords.get(dn) === req.password;
    return bindResponse(req.id, conn.bound ? 0 : 49, conn.bound ? '' : BAD_PASSWORD);
  }

  private fault<K extends keyof AdFaults>(kind: K, base: string): AdFaults[K] | undefined {
    const f = this.faults[kind] as { base?: string } | undefined;
    return f && (f.base === undefined || f.base.toLowerCase() === base.toLowerCase()) ? (f as AdFaults[K]) : undefined;
  }

  private search(req: Search, conn: { bound: boolean }): Buffer[] {
    if (req.base === '' && req.scope === 0) return [searchEntry(req.id, '', this.rootDse(req.attributes)), searchDone(req.id, 0)];
    if (!conn.bound) return [searchDone(req.id, 1, UNBOUND)];
    this.searches.push({ base: req.base, filter: req.filter, attributes: req.attributes });
    const stall = this.fault('stall', req.base);
    if (stall && stall.page === undefined) return [];
    const ranged = req.attributes.some((a) => /;range=/i.test(a));
    if (ranged && this.faults.rangeFail) return [searchDone(req.id, this.faults.rangeFail.code, 'range retrieval refused (sandbox fault)')];
    if (!this.dir.get(req.base)) return [searchDone(req.id, 32, `${NO_OBJECT}\n\t'${this.baseDn}'\n`)];
    const paged = req.controls.find((c) => c.oid === PAGED_RESULTS);
    let page: { entries: AdEntry[]; done: Buffer } | Buffer[];
    if (paged) page = this.nextPage(req, readPaged(paged.value));
    else {
      const found = this.matching(req);
      const limit = Math.min(req.sizeLimit || Infinity, this.maxPageSize);
      page = { entries: found.slice(0, limit), done: found.length > limit ? searchDone(req.id, 4, 'Size limit exceeded') : searchDone(req.id, 0) };
    }
    if (Array.isArray(page)) return page;
    const referral = this.fault('referral', req.base);
    return [
      ...page.entries.map((e) => searchEntry(req.id, e.dn, selectAttributes(e, req.attributes, this.maxValRange, this.hidden()))),
      ...(referral ? [searchReference(req.id, [referral.uri])] : []),
      page.done,
    ];
  }

  private matching(req: Search): AdEntry[] {
    const hidden = this.hidden();
    const filter = this.faults.ignoreFilter ? ignoring(req.filter, this.faults.ignoreFilter.attr) : req.filter;
    return this.dir.inScope(req.base, req.scope).filter((e) => matches(filter, (a) => (hidden.has(a.toLowerCase()) ? [] : this.dir.values(e, a))));
  }

  private hidden(): ReadonlySet<string> {
    return this.usn ? NO_ATTRIBUTES : WITHOUT_USN;
  }

  /** one page of a paged search; the matching DNs are fixed at its first page, as AD's cookie does */
  private nextPage(req: Search, control: { size: number; cookie: Buffer }): { entries: AdEntry[]; done: Buffer } | Buffer[] {
    let key = control.cookie.toString('hex');
    let state: PagedState | undefined;
    if (control.cookie.length === 0) {
      key = randomBytes(8).toString('hex');
      state = { dns: this.matching(req).map((e) => e.dn), offset: 0, page: 0 };
      this.paging.set(key, state);
    } else state = this.paging.get(key);
    if (!state) return [searchDone(req.id, 53, BAD_COOKIE)];
    state.page++;
    this.searches.at(-1)!.page = state.page;
    const at = (f: { page?: number } | undefined) => f?.page === state.page;
    if (at(this.fault('stall', req.base))) return [];
    const failing = this.fault('failPage', req.base);
    if (failing && at(failing)) {
      this.paging.delete(key);
      return [searchDone(req.id, failing.code, 'page refused (sandbox fault)')];
    }
    const cookie = (more: boolean) => [{ oid: PAGED_RESULTS, critical: false, value: pagedValue(0, more ? Buffer.from(key, 'hex') : Buffer.alloc(0)) }];
    if (at(this.fault('emptyPage', req.base))) return { entries: [], done: searchDone(req.id, 0, '', cookie(true)) };
    const size = Math.min(control.size > 0 ? control.size : this.maxPageSize, this.maxPageSize);
    const entries = state.dns.slice(state.offset, state.offset + size).flatMap((dn) => this.dir.get(dn) ?? []);
    state.offset += size;
    const more = state.offset < state.dns.length;
    if (!more) this.paging.delete(key);
    const withControl = !at(this.fault('dropControl', req.base));
    return { entries, done: searchDone(req.id, 0, '', withControl ? cookie(more) : []) };
  }

  private rootDse(attributes: string[]): { type: string; values: Buffer[] }[] {
    const all: Record<string, string[]> = {
      defaultNamingContext: [this.baseDn],
      supportedCapabilities: ['1.2.840.113556.1.4.800', '1.2.840.113556.1.4.1670', '1.2.840.113556.1.4.1791'],
      supportedControl: [PAGED_RESULTS, '1.2.840.113556.1.4.417', '1.2.840.113556.1.4.473'],
      supportedLDAPVersion: ['3', '2'],
      ...(this.usn ? { highestCommittedUSN: [String(this.dir.usn)] } : {}),
      dsServiceName: [this.dsServiceName],
    };
    const wanted = attributes.length === 0 || attributes.includes('*') ? Object.keys(all) : attributes;
    return Object.entries(all)
      .filter(([k]) => wanted.some((w) => w.toLowerCase() === k.toLowerCase()))
      .map(([type, vals]) => ({ type, values: vals.map((v) => Buffer.from(v)) }));
  }
}
