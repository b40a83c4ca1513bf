import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import samlp from 'samlp';

export interface KeyPair {
  key: string;
  cert: string;
  /** the certificate's base64 body, as metadata carries it */
  certBody: string;
}

/** A throw-away RSA key and self-signed certificate (openssl), made for one test run. */
export function makeKeyPair(cn: string, bits = 2048): KeyPair {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-key-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', `rsa:${bits}`, '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '2', '-subj', `/CN=${cn}`],
      {
        stdio: 'ignore',
      },
    );
    const cert = readFileSync(join(dir, 'c.pem'), 'utf8');
    return { key: readFileSync(join(dir, 'k.pem'), 'utf8'), cert, certBody: cert.replace(/-----[^-]+-----|\s/g, '') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ResponseOptions {
  nameId: string;
  /** the NameID's Format (default: emailAddress) */
  nameIdFormat?: string;
  groups?: string | string[];
  attributes?: Record<string, string | string[]>;
  inResponseTo?: string;
  audience?: string;
  destination?: string;
  recipient?: string;
  signResponse?: boolean;
  signAssertion?: boolean;
  signatureAlgorithm?: 'rsa-sha256' | 'rsa-sha1';
  digestAlgorithm?: 'sha256' | 'sha1';
  lifetimeInSeconds?: number;
  /** sign with another key than the one in the metadata */
  keyPair?: KeyPair;
  /** encrypt the assertion for this certificate */
  encryptFor?: string;
}

export interface TestIdp {
  entityId: string;
  keys: KeyPair;
  ssoUrl: string;
  metadata: string;
  /** a SAML Response signed by Auth0's samlp (the XML, not yet base64) */
  response(o: ResponseOptions): Promise<string>;
}

/**
 * A SAML IdP made of Auth0's `samlp` (a real third-party implementation): it signs the responses
 * the tests post to convsync's ACS. Its metadata is what an operator downloads from their IdP.
 */
export function testIdp(sp: { entityId: string; acsUrl: string }, entityId = 'https://idp.test/metadata'): TestIdp {
  const keys = makeKeyPair('convsync test idp');
  const ssoUrl = 'https://idp.test/sso';
  const metadata = `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${entityId}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="false">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${keys.certBody}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${ssoUrl}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`;
  return {
    entityId,
    keys,
    ssoUrl,
    metadata,
    response(o) {
      const signer = o.keyPair ?? keys;
      const claims: Record<string, string | string[]> = { ...(o.groups !== undefined ? { groups: o.groups } : {}), ...o.attributes };
      return new Promise((resolve, reject) => {
        samlp.getSamlResponse(
          {
            issuer: entityId,
            cert: signer.cert,
            key: signer.key,
            audience: o.audience ?? sp.entityId,
            recipient: o.recipient ?? sp.acsUrl,
            destination: o.destination ?? sp.acsUrl,
            ...(o.inResponseTo !== undefined ? { inResponseTo: o.inResponseTo } : {}),
            signResponse: o.signResponse ?? false,
            signAssertion: o.signAssertion ?? true,
            signatureAlgorithm: o.signatureAlgorithm ?? 'rsa-sha256',
            digestAlgorithm: o.digestAlgorithm ?? 'sha256',
            lifetimeInSeconds: o.lifetimeInSeconds ?? 300,
            ...(o.encryptFor !== undefined ? { encryptionCert: o.encryptFor, encryptionPublicKey: publicKeyOf(o.encryptFor) } : {}),
            profileMapper: () => ({
              getClaims: () => claims,
              getNameIdentifier: () => ({
                nameIdentifier: o.nameId,
                nameIdentifierFormat: o.nameIdFormat ?? 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
              }),
            }),
          },
          {},
          (err: Error | null, xml: string) => (err ? reject(err) : resolve(xml)),
        );
      });
    },
  };
}

function publicKeyOf(certPem: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'convsync-key-'));
  try {
    writeFileSync(join(dir, 'c.pem'), certPem);
    return execFileSync('openssl', ['x509', '-pubkey', '-noout', '-in', join(dir, 'c.pem')], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The AuthnRequest an SP-initiated login redirects to (HTTP-Redirect binding: deflated, base64). */
export function authnRequestOf(location: string): { id: string; xml: string; relayState: string | null } {
  const url = new URL(location);
  const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
  const id = /\sID="([^"]+)"/.exec(xml)?.[1];
  if (!id) throw new Error(`no request id in ${xml}`);
  return { id, xml, relayState: url.searchParams.get('RelayState') };
}
