import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Client } from 'ldapts';
import type { LdapSourceConfig } from '../../config/ldap-schema.js';
import { readSecret } from '../../config/secrets.js';
import { AuthError, TransientError, describeError, isSyncError } from '../../errors.js';
import { ldapError, resultCode } from './errors.js';

/** what the server's root DSE says about it */
export interface ServerInfo {
  activeDirectory: boolean;
  /** AD's highestCommittedUSN when the connection was made: where an incremental read by uSNChanged starts next time */
  highestCommittedUSN?: string;
  /** AD: the domain controller that answered (USNs are its own, not the domain's) */
  dsServiceName?: string;
}

export interface LdapConnection {
  client: Client;
  /** the URL that answered (the first of the fail-over list that did) */
  url: string;
  server: ServerInfo;
  close(): Promise<void>;
}

const AD_CAPABILITY = '1.2.840.113556.1.4.800';

export function urlsOf(config: LdapSourceConfig): string[] {
  return Array.isArray(config.url) ? config.url : [config.url];
}

/** a plain ldap:// URL without StartTLS sends the bind password in the clear */
export function isPlain(config: LdapSourceConfig): boolean {
  return !config.startTls && urlsOf(config).some((u) => /^ldap:/i.test(u));
}

/**
 * A connected, bound client: the URLs are tried in order and the first that connects is used;
 * refused credentials stop at once (every server of a directory would refuse them).
 */
export async function connect(config: LdapSourceConfig, origin: string): Promise<LdapConnection> {
  const failures: string[] = [];
  for (const url of urlsOf(config)) {
    // ldapts speaks TLS from the start whenever tlsOptions are given: only for ldaps://
    const secure = /^ldaps:/i.test(url);
    const client = new Client({ url, timeout: config.timeoutMs, connectTimeout: config.timeoutMs, ...(secure ? { tlsOptions: tlsOptions(config, url) } : {}) });
    try {
      if (config.startTls) await client.startTLS(tlsOptions(config, url)).catch((e: unknown) => Promise.reject(ldapError(e, origin, `StartTLS with ${url}`)));
      if (config.bindDn !== undefined) {
        await client
          .bind(config.bindDn, readSecret(config, 'password'))
          .catch((e: unknown) => Promise.reject(ldapError(e, origin, `bind as ${config.bindDn} at ${url}`)));
      }
      const server = await readRootDse(client);
      return { client, url, server, close: () => client.unbind().catch(() => undefined) };
    } catch (e) {
      await client.unbind().catch(() => undefined);
      const err = isSyncError(e) ? e : ldapError(e, origin, `connect to ${url}`);
      if (err instanceof AuthError || !(err instanceof TransientError)) throw err;
      failures.push(describeError(err));
    }
  }
  throw new TransientError(`no LDAP server answered: ${failures.join('; ')}`, { origin, label: 'unreachable' });
}

function tlsOptions(config: LdapSourceConfig, url: string): ConnectionOptions {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  const ca = config.tls.caFile === undefined ? undefined : readFileSync(config.tls.caFile, 'utf8');
  // SNI takes names, not addresses: an address is checked against the certificate through `host`
  return { ...(ca ? { ca } : {}), ...(isIP(host) ? { host } : { servername: host }), rejectUnauthorized: true };
}

/** the root DSE, readable anonymously on OpenLDAP and AD alike; a server that hides it is taken as not AD */
async function readRootDse(client: Client): Promise<ServerInfo> {
  try {
    const { searchEntries } = await client.search('', {
      scope: 'base',
      filter: '(objectClass=*)',
      attributes: ['supportedCapabilities', 'highestCommittedUSN', 'dsServiceName'],
    });
    const dse = searchEntries[0];
    const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);
    const usn = list(dse?.highestCommittedUSN)[0];
    const dc = list(dse?.dsServiceName)[0];
    return {
      activeDirectory: list(dse?.supportedCapabilities).includes(AD_CAPABILITY),
      ...(usn && /^\d+$/.test(usn) ? { highestCommittedUSN: usn } : {}),
      ...(dc ? { dsServiceName: dc } : {}),
    };
  } catch (e) {
    // a lost connection is the server's failure, not a hidden root DSE
    if (resultCode(e) === undefined) throw e;
    return { activeDirectory: false };
  }
}
