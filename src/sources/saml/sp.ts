import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as samlify from 'samlify';
import type { Dispatcher } from 'undici';
import { validateXML } from 'xmllint-wasm';
import { defaultDispatcher } from '../../http/dispatcher.js';
import { request } from '../../http/undici.js';
import { shownUrl } from '../../http/request.js';
import type { SamlSourceConfig } from '../../config/schema.js';
import type { SamlLogin } from '../../store/saml.js';
import type { Store } from '../../store/store.js';
import { checkFacts, hasEncryptedAssertion, inspectEnvelope, readFacts, SamlRejected, signingCertificates } from './checks.js';
import { assertedGroups, attributeValues, type AssertedGroups } from './groups.js';
import { loginSubject } from './subject.js';

const POST_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const MAX_RESPONSE_BYTES = 512 * 1024;

let schemas: { main: string; preload: { fileName: string; contents: string }[] } | undefined;

/** The SAML 2.0 XSDs shipped with @authenio/samlify-xmllint-wasm, validated by libxml2 in WebAssembly (no JVM). */
async function validateSchema(xml: string): Promise<true> {
  if (!schemas) {
    const dir = join(dirname(createRequire(import.meta.url).resolve('@authenio/samlify-xmllint-wasm/package.json')), 'build', 'schemas');
    const read = (fileName: string) => ({ fileName, contents: readFileSync(join(dir, fileName), 'utf8') });
    schemas = {
      main: read('saml-schema-protocol-2.0.xsd').contents,
      preload: ['datatypes.dtd', 'saml-schema-assertion-2.0.xsd', 'xmldsig-core-schema.xsd', 'XMLSchema.dtd', 'xenc-schema.xsd'].map(read),
    };
  }
  const result = await validateXML({
    xml: [{ fileName: 'response.xml', contents: xml }],
    schema: [schemas.main],
    preload: schemas.preload,
    extension: 'schema',
  });
  if (!result.valid) throw new SamlRejected(`the response does not follow the SAML 2.0 schema: ${result.errors[0]?.message ?? 'invalid'}`);
  return true;
}
samlify.setSchemaValidator({ validate: validateSchema });

/** samlify's error codes, said so that the person signing in (and the operator) can act */
function explain(e: unknown, idpEntity: string): SamlRejected {
  if (e instanceof SamlRejected) return e;
  const code = e instanceof Error ? e.message : String(e);
  if (code.includes('UNMATCH_CERTIFICATE')) return new SamlRejected('the response is signed with a certificate the IdP metadata does not list');
  if (/VERIFY_SIGNATURE|ZERO_SIGNATURE|SIGNATURE/.test(code)) return new SamlRejected('the response carries no valid signature of the identity provider');
  if (code.includes('WRAPPING')) return new SamlRejected('an assertion or signature is nested where it must not be (signature wrapping)');
  if (code.includes('UNMATCH_ISSUER')) return new SamlRejected(`the assertion was not issued by ${idpEntity}`);
  if (code.includes('SUBJECT_UNCONFIRMED')) return new SamlRejected('the assertion is outside its validity period');
  if (code.includes('EXPIRED_SESSION')) return new SamlRejected('the session the assertion grants has expired');
  if (code.includes('FAILED_STATUS')) return new SamlRejected(`the identity provider reports a failed login (${code.replace(/^ERR_FAILED_STATUS with /, '')})`);
  if (code.includes('XML')) return new SamlRejected('the response is not valid SAML 2.0 XML');
  return new SamlRejected(`the response could not be verified (${code})`);
}

export interface AcceptedLogin {
  login: Omit<SamlLogin, 'groupsSeenAt'>;
  groups: AssertedGroups;
  /** the groups the user's previous login showed: the ones left need reconciling too */
  previousGroups: string[];
}

/**
 * convsync as a SAML 2.0 service provider for one `saml` source. samlify verifies schema,
 * signature, issuer and validity period; this class adds what samlify leaves to its caller
 * (checks.ts) and records an accepted login in the store, all or nothing.
 */
export class SamlServiceProvider {
  readonly acsUrl: string;
  readonly entityId: string;
  private readonly settings: Parameters<typeof samlify.ServiceProvider>[0];
  private readonly sp: samlify.ServiceProviderInstance;
  private idp: Promise<samlify.IdentityProviderInstance> | undefined;

  constructor(
    private readonly config: SamlSourceConfig,
    private readonly store: Store,
    private readonly opts: { dispatcher?: Dispatcher; now?: () => number } = {},
  ) {
    const base = config.publicUrl.replace(/\/+$/, '') + config.path;
    this.acsUrl = `${base}/acs`;
    this.entityId = config.entityId ?? `${base}/metadata`;
    const key = (file: string | undefined) => (file !== undefined ? readFileSync(file, 'utf8') : undefined);
    const skew = config.clockSkewSeconds * 1000;
    const signingKey = key(config.sp.signingKeyFile);
    const encKey = key(config.sp.encryptionKeyFile);
    this.settings = {
      entityID: this.entityId,
      assertionConsumerService: [{ Binding: POST_BINDING, Location: this.acsUrl }],
      wantAssertionsSigned: true,
      authnRequestsSigned: signingKey !== undefined,
      requestSignatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
      clockDrifts: [-skew, skew],
      ...(signingKey !== undefined ? { privateKey: signingKey, signingCert: key(config.sp.signingCertFile)! } : {}),
      ...(encKey !== undefined ? { encPrivateKey: encKey, encryptCert: key(config.sp.encryptionCertFile)! } : {}),
    };
    this.sp = samlify.ServiceProvider(this.settings);
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  metadata(): string {
    return this.sp.getMetadata();
  }

  /** The IdP from its metadata; a failed read is tried again at the next use. */
  private identityProvider(): Promise<samlify.IdentityProviderInstance> {
    this.idp ??= this.readIdpMetadata()
      // samlify reads "assertions are encrypted" from the IdP entity, the key from the SP
      .then((metadata) => {
        const signing = signingCertificates(metadata);
        if (signing.length === 0)
          throw new Error('the IdP metadata lists no signing certificate (an X509Certificate in a KeyDescriptor of the IDPSSODescriptor for signing)');
        const idp = samlify.IdentityProvider({
          metadata,
          wantAuthnRequestsSigned: this.config.sp.signingKeyFile !== undefined,
          isAssertionEncrypted: this.config.sp.encryptionKeyFile !== undefined,
        });
        // samlify's own reading of the KeyDescriptors can come out empty, and then it trusts the
        // certificate a response carries: it verifies with these, and only these
        const meta = (idp.entityMeta as unknown as { meta: { certificate?: Record<string, unknown> } }).meta;
        meta.certificate = { ...meta.certificate, signing };
        return idp;
      })
      .catch((e: unknown) => {
        this.idp = undefined;
        throw e;
      });
    return this.idp;
  }

  private async readIdpMetadata(): Promise<string> {
    const { metadataFile, metadataUrl } = this.config.idp;
    if (metadataFile !== undefined) return readFileSync(metadataFile, 'utf8');
    const res = await request(metadataUrl!, {
      method: 'GET',
      dispatcher: this.opts.dispatcher ?? defaultDispatcher(),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const body = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`the IdP metadata at ${shownUrl(metadataUrl!)} answered HTTP ${res.statusCode}`);
    return body;
  }

  /** An SP-initiated login: the request id is kept for `requestTtlSeconds` to match the response. */
  async loginRedirect(relayState?: string): Promise<string> {
    const idp = await this.identityProvider();
    // samlify refuses a signed request to an IdP whose metadata does not ask for one
    const sp =
      this.settings.authnRequestsSigned && !idp.entityMeta.isWantAuthnRequestsSigned()
        ? samlify.ServiceProvider({ ...this.settings, authnRequestsSigned: false })
        : this.sp;
    const { id, context } = sp.createLoginRequest(idp, 'redirect', relayState !== undefined ? { relayState } : undefined) as { id: string; context: string };
    const now = this.now();
    this.store.saml.addRequest(this.config.name, id, new Date(now + this.config.requestTtlSeconds * 1000).toISOString(), new Date(now).toISOString());
    return context;
  }

  /** Verifies a response posted to the ACS and records the login; throws SamlRejected with the reason. */
  async accept(samlResponse: unknown): Promise<AcceptedLogin> {
    if (typeof samlResponse !== 'string' || samlResponse === '') throw new SamlRejected('the request carries no SAMLResponse');
    if (samlResponse.length > MAX_RESPONSE_BYTES) throw new SamlRejected('the SAMLResponse is too large');
    if (!/^[A-Za-z0-9+/=\s]+$/.test(samlResponse)) throw new SamlRejected('the SAMLResponse is not base64');
    const received = Buffer.from(samlResponse, 'base64').toString('utf8');
    inspectEnvelope(received);
    const idp = await this.identityProvider();
    let parsed: { samlContent: string; extract: Record<string, unknown> };
    try {
      parsed = (await this.sp.parseLoginResponse(idp, 'post', { body: { SAMLResponse: samlResponse } })) as typeof parsed;
    } catch (e) {
      throw explain(e, idp.entityMeta.getEntityID());
    }
    const now = this.now();
    // samlify verifies the decrypted assertion but hands back the document as received
    let content = parsed.samlContent;
    if (hasEncryptedAssertion(content)) {
      content = (await samlify.SamlLib.decryptAssertion(this.sp, content))[0];
      inspectEnvelope(content);
    }
    const facts = readFacts(content);
    const { assertionId, expiresAt } = checkFacts(facts, {
      acsUrl: this.acsUrl,
      entityId: this.entityId,
      now,
      skewMs: this.config.clockSkewSeconds * 1000,
      maxAgeMs: this.config.requestTtlSeconds * 1000,
    });
    if (facts.inResponseTo === undefined && !this.config.allowIdpInitiated) {
      throw new SamlRejected('the response answers no login request of ours, and IdP-initiated logins are not allowed (allowIdpInitiated)');
    }
    const nameId = parsed.extract.nameID;
    if (typeof nameId !== 'string' || nameId.trim() === '') throw new SamlRejected('the assertion names no subject (NameID)');
    const attributes = (parsed.extract.attributes ?? {}) as Record<string, unknown>;
    const groups = assertedGroups(attributes, this.config.groups);
    const u = this.config.users;
    const recorded: Record<string, string[]> = {};
    for (const name of [u.emailAttribute, u.externalIdAttribute, u.displayNameAttribute, ...u.attributes]) {
      if (name !== undefined && attributes[name] !== undefined) recorded[name] = attributeValues(attributes[name]);
    }
    const who = { nameId: nameId.trim(), nameIdFormat: facts.nameIdFormat, attributes: recorded };
    const login: Omit<SamlLogin, 'groupsSeenAt'> = {
      ...who,
      subject: loginSubject(who, u),
      groups: groups.keys,
      groupsUnknown: groups.unknown,
      assertionId,
      issueInstant: facts.assertionIssueInstant!,
      loggedInAt: new Date(now).toISOString(),
    };
    const outcome = this.store.saml.recordLogin(this.config.name, login, {
      requestId: facts.inResponseTo,
      assertionExpiresAt: new Date(expiresAt).toISOString(),
      now: new Date(now).toISOString(),
      skewMs: this.config.clockSkewSeconds * 1000,
    });
    if (!outcome.ok) {
      throw new SamlRejected(
        outcome.reason === 'replayed'
          ? 'this assertion was already used (replay)'
          : outcome.reason === 'stale'
            ? 'a sign-in of yours that the identity provider answered later is already recorded; please sign in again'
            : `the response answers a login request (${facts.inResponseTo}) that is unknown, already answered or expired`,
      );
    }
    return { login, groups, previousGroups: outcome.previousGroups };
  }
}
