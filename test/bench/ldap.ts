import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ConfigSchema, type LdapSourceConfig } from '../../src/config/schema.js';
import { ldapSource, type LdapReadReport } from '../../src/sources/ldap/index.js';
import type { SourceResult } from '../../src/sources/types.js';
import { Store } from '../../src/store/store.js';
import { GROUPS, makeDirectory, PEOPLE, writeLdif } from '../helpers/ldap-directory.js';
import { BIND_DN, BIND_PASSWORD, slapdMissing, startSlapd, type Slapd } from '../helpers/slapd.js';
import type { Workload } from './plan.js';

export interface LdapBench {
  /** LDIF written and loaded with slapadd, slapd started */
  setupSeconds: number;
  read(): Promise<LdapReadResult>;
  close(): Promise<void>;
}

/** what one read, or one question, cost: its time and what the source counted */
export interface LdapCost {
  seconds: number;
  requests: number;
  entries: number;
}

export interface LdapReadResult {
  seconds: number;
  requests: number;
  entries: number;
  memberships: number;
  peakRssMiB: number;
  /** heap still held by the result (groups and users) after a collection */
  heapAfterMiB: number;
  /**
   * a scheduled run after it with nothing changed: what the source asks first (`changed()`: id
   * listings and the queries for what changed; the run then reads and plans nothing), and the
   * incremental read a run makes when it reads anyway
   */
  scheduled: { check: LdapCost; incrementalRead: LdapCost & { memberships: number } };
}

/**
 * The LDAP source reading a workload from Debian's slapd on loopback (slapd on the other core):
 * `w.users` people, `w.groups` groupOfNames of `w.memberships / w.groups` members each, paged at
 * `pageSize`, every entry last modified a day before. Each `read()` starts with a store of its own,
 * so its first read is a full one, as the first run and each scheduled full read are; then comes
 * a scheduled run with nothing changed.
 */
export async function startLdapBench(w: Workload, opts: { pageSize: number }): Promise<LdapBench> {
  const missing = slapdMissing();
  if (missing) throw new Error(`the ldap bench needs slapd: ${missing}`);
  const t = performance.now();
  const directory = makeDirectory({ users: w.users, groups: w.groups, membersPerGroup: Math.round(w.memberships / w.groups) });
  const file = join(tmpdir(), `convsync-bench-${process.pid}.ldif`);
  const dayAgo = `${new Date(Date.now() - 86_400_000).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
  let slapd: Slapd;
  try {
    await writeLdif(file, directory, { modifiedAt: dayAgo });
    slapd = await startSlapd({ ldifFile: file });
  } finally {
    rmSync(file, { force: true });
  }
  const setupSeconds = (performance.now() - t) / 1000;
  const config = ConfigSchema.parse({
    store: { path: ':memory:' },
    sources: [
      {
        name: 'corp',
        type: 'ldap',
        url: slapd.url,
        bindDn: BIND_DN,
        password: BIND_PASSWORD,
        pageSize: opts.pageSize,
        timeoutMs: 120_000,
        groups: { baseDn: GROUPS },
        users: { baseDn: PEOPLE, attributes: ['employeeNumber'] },
      },
    ],
    backend: { type: 'protocol', baseUrl: 'http://127.0.0.1:9', auth: { type: 'bearer', token: 'unused' } },
    mappings: [{ match: { source: 'corp' }, name: '{displayName}' }],
  }).sources[0] as LdapSourceConfig;

  /** memberships of a whole read; anything less throws */
  const whole = (result: SourceResult, what: string) => {
    const memberships = result.groups.reduce((n, g) => n + g.members.length, 0);
    if (result.groups.length !== w.groups || !result.listingComplete || result.groups.some((g) => !g.complete) || memberships !== w.memberships) {
      throw new Error(`${what}: incomplete read: ${result.groups.length} groups, ${memberships} memberships, ${result.warnings.slice(0, 3).join('; ')}`);
    }
    return memberships;
  };

  return {
    setupSeconds: Math.round(setupSeconds * 10) / 10,
    async read() {
      const dir = mkdtempSync(join(tmpdir(), 'convsync-bench-ldap-'));
      const store = Store.open(join(dir, 'convsync.db'));
      try {
        globalThis.gc?.();
        let peak = process.memoryUsage().rss;
        const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
        const source = ldapSource.create(config, { logger: pino({ level: 'silent' }), store });
        const reports = source as unknown as { lastRead: LdapReadReport; lastCheck: LdapReadReport };
        const signal = new AbortController().signal;
        const started = performance.now();
        const result = await source.fetch(signal).finally(() => clearInterval(sampler));
        const seconds = (performance.now() - started) / 1000;
        const report = reports.lastRead;
        const memberships = whole(result, 'full read');
        if (report.mode !== 'full' || !report.stored) throw new Error(`the first read was not a full read that was stored: ${JSON.stringify(report)}`);
        globalThis.gc?.();
        const heapAfterMiB = Math.round(process.memoryUsage().heapUsed / 2 ** 20);

        const check = await timed(async () => {
          if (await source.changed!(signal)) throw new Error('nothing changed, yet the source says it did');
          return reports.lastCheck;
        });
        const incremental = await timed(async () => {
          const again = await source.fetch(signal);
          if (whole(again, 'incremental read') !== memberships) throw new Error('an incremental read with nothing changed gave other memberships');
          if (reports.lastRead.mode !== 'incremental')
            throw new Error(`a scheduled read with nothing changed was not incremental: ${JSON.stringify(reports.lastRead)}`);
          return reports.lastRead;
        });
        return {
          seconds: round(seconds),
          requests: report.requests,
          entries: report.entries,
          memberships,
          peakRssMiB: Math.round(peak / 2 ** 20),
          heapAfterMiB,
          scheduled: { check, incrementalRead: { ...incremental, memberships } },
        };
      } finally {
        store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    close: () => slapd.close(),
  };
}

const round = (n: number) => Math.round(n * 100) / 100;

async function timed(fn: () => Promise<LdapReadReport>): Promise<LdapCost> {
  const started = performance.now();
  const report = await fn();
  return { seconds: round((performance.now() - started) / 1000), requests: report.requests, entries: report.entries };
}
