import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'convsync-config-paths-'));

function load(source: string) {
  const f = join(dir, 'convsync.yaml');
  writeFileSync(
    f,
    [
      'store: { path: ./x.db }',
      `sources: [${source}]`,
      'backend: { type: protocol, baseUrl: "http://127.0.0.1:9/api", auth: { type: bearer, token: x } }',
      'mappings: [{ match: { displayName: "x" }, name: x }]',
    ].join('\n'),
  );
  return loadConfig({ file: f, env: {}, checkSecretFiles: false });
}

describe('paths a source is served at', () => {
  // mounted before the status page (and, for /approve, after POST /approve/{run}): the daemon's own
  // routes would answer the IdP, or the source's would answer the browser
  it.each(['/ui', '/UI', '/ui/scim', '/approve', '/approve/scim', '/sync', '/metrics', '/healthz', '/readyz'])('refuses %s, a route of the daemon', (path) => {
    for (const source of [`{ name: corp, type: scim-push, path: "${path}", token: t }`]) {
      expect(() => load(source)).toThrow(ConfigError);
    }
  });

  it('accepts the defaults and paths beside the daemon’s routes', () => {
    expect(() => load('{ name: corp, type: scim-push, token: t }')).not.toThrow();
    expect(() => load('{ name: corp, type: scim-push, path: /uiscim, token: t }')).not.toThrow();
  });
});
