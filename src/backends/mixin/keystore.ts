import { createHash, createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { parseSecretJson } from '../../config/secrets.js';

const Keystore = z.looseObject({
  app_id: z.uuid(),
  session_id: z.uuid(),
  session_private_key: z.string().regex(/^[0-9a-f]{64}$/i, 'must be the hex of a 32-byte Ed25519 seed'),
  server_public_key: z.string().optional(),
});
export type Keystore = z.infer<typeof Keystore>;

export function readKeystore(file: string): Keystore {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the Mixin keystore ${file}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  const raw = parseSecretJson(text, `the Mixin keystore ${file}`);
  const parsed = Keystore.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new Error(`the Mixin keystore ${file} is not a bot keystore: ${i.path.join('.')}: ${i.message} (RSA and legacy base64 keys are not supported)`);
  }
  return parsed.data;
}

/** an Ed25519 private key from its 32-byte seed (PKCS#8 wrapping of the raw seed) */
export function ed25519FromSeed(seedHex: string): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seedHex, 'hex')]),
    format: 'der',
    type: 'pkcs8',
  });
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/**
 * A fresh EdDSA JWT for one request (reference §4.1): `sig` is the hex SHA-256 of the method, the
 * path with its query, and the exact body bytes; `jti` is the X-Request-Id. Never reused.
 */
export function signRequest(ks: Keystore, key: KeyObject, method: string, uri: string, body: string, lifetimeSeconds: number) {
  const requestId = randomUUID();
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    uid: ks.app_id,
    sid: ks.session_id,
    iat: now,
    exp: now + lifetimeSeconds,
    jti: requestId,
    sig: createHash('sha256')
      .update(method.toUpperCase() + uri + body)
      .digest('hex'),
    scp: 'FULL',
  };
  const unsigned = `${b64url(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  const signature = sign(null, Buffer.from(unsigned), key);
  return { token: `${unsigned}.${b64url(signature)}`, requestId };
}
