import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readKeystore } from '../../src/backends/mixin/keystore.js';
import { parseSecretJson } from '../../src/config/secrets.js';

const SEED = '5f3a9c0d1e2b4a6f8c7d9e0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e';
const dir = mkdtempSync(join(tmpdir(), 'convsync-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** every run of 4+ characters of the seed: none may appear in an error */
function fragmentsOf(secret: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 4 <= secret.length; i++) out.push(secret.slice(i, i + 4));
  return out;
}

describe('errors about secret files', () => {
  const broken: [string, string, RegExp][] = [
    [
      'a quote missing before the seed',
      `{\n  "app_id": "a0c1b2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d",\n  "session_private_key": ${SEED}"\n}`,
      /not valid JSON at line 3, column 27/,
    ],
    ['single quotes', `{'session_private_key': '${SEED}'}`, /not valid JSON at line 1, column 2/],
    ['a trailing comma', `{"session_private_key": "${SEED}",}`, /not valid JSON at line 1, column \d+/],
    ['cut short', `{"session_private_key": "${SEED.slice(0, 20)}`, /empty or ends too early/],
    ['a bare word', `session_private_key=${SEED}`, /not valid JSON at line 1, column 1/],
  ];
  for (const [what, text, where] of broken) {
    it(`say where the JSON is wrong, never what it holds: ${what}`, () => {
      const file = join(dir, 'keystore.json');
      writeFileSync(file, text);
      let message = '';
      try {
        readKeystore(file);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(where);
      expect(message).toContain(file);
      for (const f of fragmentsOf(SEED)) expect(message).not.toContain(f);
    });
  }

  it('a keystore that is JSON but not a bot keystore names the field, not its value', () => {
    const file = join(dir, 'keystore-rsa.json');
    writeFileSync(
      file,
      JSON.stringify({ app_id: 'a0c1b2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d', session_id: 'a0c1b2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4e', session_private_key: `${SEED}zz` }),
    );
    expect(() => readKeystore(file)).toThrow(/session_private_key: must be the hex of a 32-byte Ed25519 seed/);
    try {
      readKeystore(file);
    } catch (e) {
      for (const f of fragmentsOf(SEED)) expect((e as Error).message).not.toContain(f);
    }
  });

  it('an unreadable keystore says why by its error code only', () => {
    expect(() => readKeystore(join(dir, 'missing.json'))).toThrow(/cannot read the Mixin keystore .*missing.json: ENOENT/);
  });

  it('parses valid JSON as JSON.parse does', () => {
    expect(parseSecretJson('{"a": [1, "x"]}', 'f')).toEqual({ a: [1, 'x'] });
  });
});
