import { pino } from 'pino';
import type { LdapSourceConfig } from '../../src/config/schema.js';
import { ldapSource, type LdapReadReport } from '../../src/sources/ldap/index.js';
import { Store } from '../../src/store/store.js';
import { slapdSource, type Slapd } from './slapd.js';
import { parsedSource } from './source-config.js';

/** an LDAP source over this slapd, its store at `path` (in memory by default), as the source tests read it */
export function ldapOver(slapd: Slapd, settings: Record<string, unknown>, path = ':memory:') {
  const cfg = parsedSource<LdapSourceConfig>(slapdSource(slapd, settings));
  const logger = pino({ level: 'silent' });
  const store = Store.open(path);
  const source = ldapSource.create(cfg, { logger, store });
  return {
    cfg,
    store,
    source,
    fetch: () => source.fetch(new AbortController().signal),
    /** what the last read was (full or incremental, stored or not) */
    report: () => (source as unknown as { lastRead: LdapReadReport }).lastRead,
    /** a read with no stored read to start from: what a full read gives now */
    readFresh: () => ldapSource.create(cfg, { logger, store: Store.open(':memory:') }).fetch(new AbortController().signal),
  };
}
