/** pruneStore with a SAML source whose membershipTtlHours means "never expire" (a very large number) */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema.js';
import { pruneStore } from '../../src/reconcile/bookkeeping.js';
import type { RunDeps } from '../../src/reconcile/deps.js';
import { Store } from '../../src/store/store.js';
import { testIdp } from '../helpers/saml-idp.js';

let dir: string;
let store: Store;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'convsync-saml-ttl-'));
  writeFileSync(join(dir, 'idp.xml'), testIdp({ entityId: 'https://convsync.test/saml/metadata', acsUrl: 'https://convsync.test/saml/acs' }).metadata);
  store = Store.open(join(dir, 'convsync.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('membershipTtlHours as "never expire" (a very large number)', () => {
  it('does not make pruning the store fail (runs, plans, identity cache and logins pruned no more)', () => {
    const config = ConfigSchema.parse({
      store: { path: join(dir, 'convsync.db') },
      sources: [{ name: 'sso', type: 'saml', publicUrl: 'https://convsync.test', idp: { metadataFile: join(dir, 'idp.xml') }, membershipTtlHours: 1e10 }],
      backend: { type: 'wire', baseUrl: 'https://wire.test', email: 'bot@corp.test', password: 'unused' },
      identity: { from: 'email' },
      mappings: [{ match: { source: 'sso' }, name: '{displayName} (SSO)' }],
    });
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    pruneStore({ config, store, logger } as unknown as RunDeps);
    // before the fix: 'could not prune the store; it is tried again after the next run' (RangeError: Invalid time value), at every run
    expect(lines.filter((l) => (l.level as number) >= 40).map((l) => l.msg)).toEqual([]);
  });
});
