import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** the version of `name` as `from` resolves it (each package may get its own copy) */
function versionFrom(from: string, name: string): string {
  const require = createRequire(from);
  return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
}

const atLeast = (version: string, min: string) => {
  const a = version.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return true;
};

describe('the SAML stack is past its known signature bypasses', () => {
  const samlifyDir = dirname(createRequire(import.meta.url).resolve('samlify/package.json'));

  it('samlify ≥ 2.13.1 (audit fixes: XXE options, SigAlg fallback, attribute injection)', () => {
    expect(atLeast(versionFrom(import.meta.url, 'samlify'), '2.13.1')).toBe(true);
  });

  it('the xml-crypto and xmldom samlify loads are ≥ 6.0.1 (CVE-2025-29774/29775) and ≥ 0.8.11', () => {
    const from = join(samlifyDir, 'build', 'index.js');
    expect(atLeast(versionFrom(from, 'xml-crypto'), '6.0.1')).toBe(true);
    expect(atLeast(versionFrom(from, '@xmldom/xmldom'), '0.8.11')).toBe(true);
  });
});
