import { DOMParser } from '@xmldom/xmldom';

/** A response convsync refuses; `reason` is said to the person signing in and logged. */
export class SamlRejected extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'SamlRejected';
  }
}

const PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
const DSIG = 'http://www.w3.org/2000/09/xmldsig#';
const XENC = 'http://www.w3.org/2001/04/xmlenc#';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const METADATA = 'urn:oasis:names:tc:SAML:2.0:metadata';

/** SHA-1 and MD5 are collision-prone; RSA PKCS#1 v1.5 key transport is open to padding oracles */
const STRONG_SIGNATURES = new Set(
  ['rsa-sha256', 'rsa-sha384', 'rsa-sha512', 'ecdsa-sha256', 'ecdsa-sha384', 'ecdsa-sha512'].map((a) => `http://www.w3.org/2001/04/xmldsig-more#${a}`),
);
const STRONG_DIGESTS = new Set([
  'http://www.w3.org/2001/04/xmlenc#sha256',
  'http://www.w3.org/2001/04/xmldsig-more#sha384',
  'http://www.w3.org/2001/04/xmlenc#sha512',
]);
const STRONG_KEY_TRANSPORT = new Set(['http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p', 'http://www.w3.org/2009/xmlenc11#rsa-oaep']);
const STRONG_CONTENT_ENCRYPTION = new Set([
  'http://www.w3.org/2001/04/xmlenc#aes128-cbc',
  'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
  'http://www.w3.org/2009/xmlenc11#aes128-gcm',
  'http://www.w3.org/2009/xmlenc11#aes256-gcm',
]);

export function parseXml(xml: string, what: string): Document {
  if (/<!DOCTYPE/i.test(xml)) throw new SamlRejected(`the ${what} contains a DOCTYPE, which SAML never needs`);
  const fail = (m: string) => {
    throw new SamlRejected(`the ${what} is not well-formed XML: ${m.split('\n')[0]}`);
  };
  const doc = new DOMParser({ errorHandler: { warning: () => undefined, error: fail, fatalError: fail } }).parseFromString(xml, 'text/xml');
  if (!doc?.documentElement) throw new SamlRejected(`the ${what} is empty`);
  // xmldom and xpath walk the tree recursively: a deep one overflows the stack (a 500, not a reason)
  if (depthOf(doc.documentElement) > MAX_DEPTH) throw new SamlRejected(`the ${what} is nested deeper than ${MAX_DEPTH} elements`);
  return doc;
}

/** SAML nests a dozen levels deep (an encrypted, signed assertion included) */
const MAX_DEPTH = 64;

/** the depth of a tree, walked without recursion */
function depthOf(root: Node): number {
  let max = 0;
  let depth = 1;
  let node: Node | null = root;
  while (node) {
    if (depth > max) max = depth;
    if (max > MAX_DEPTH) return max;
    if (node.firstChild) {
      node = node.firstChild;
      depth++;
      continue;
    }
    while (node && !node.nextSibling && node !== root) {
      node = node.parentNode;
      depth--;
    }
    if (!node || node === root) break;
    node = node.nextSibling;
  }
  return max;
}

const all = (node: Document | Element, ns: string, local: string): Element[] => Array.from(node.getElementsByTagNameNS(ns, local));
const children = (el: Element, ns: string, local: string): Element[] =>
  Array.from(el.childNodes as NodeListOf<ChildNode>).filter(
    (n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === local,
  );
const child = (el: Element | undefined, ns: string, local: string): Element | undefined => (el ? children(el, ns, local)[0] : undefined);
const attr = (el: Element | undefined, name: string): string | undefined => (el?.hasAttribute(name) ? el.getAttribute(name)! : undefined);

/**
 * Structure checks on the response as received, before any signature is verified: one Response
 * with exactly one assertion (plain or encrypted), each signature placed on and covering the
 * Response or the Assertion it sits in, and only strong algorithms.
 */
export function inspectEnvelope(xml: string): void {
  const doc = parseXml(xml, 'response');
  const root = doc.documentElement!;
  if (root.namespaceURI !== PROTOCOL || root.localName !== 'Response') throw new SamlRejected(`the message is a ${root.localName}, not a SAML 2.0 Response`);
  // a failed login carries no assertion: say what the IdP said (its codes only, not its message)
  const status = child(child(root, PROTOCOL, 'Status'), PROTOCOL, 'StatusCode');
  const top = attr(status, 'Value');
  if (top !== undefined && top !== SUCCESS) {
    const codes = [top, attr(child(status, PROTOCOL, 'StatusCode'), 'Value')].filter((c): c is string => c !== undefined);
    throw new SamlRejected(
      `the identity provider reports a failed login (${codes.map((c) => c.replace(/^urn:oasis:names:tc:SAML:2\.0:status:/, '')).join(', ')})`,
    );
  }
  const count = all(doc, ASSERTION, 'Assertion').length + all(doc, ASSERTION, 'EncryptedAssertion').length;
  if (count !== 1) throw new SamlRejected(`the response carries ${count} assertions; exactly one is accepted`);
  for (const sig of all(doc, DSIG, 'Signature')) {
    const parent = sig.parentNode as Element | null;
    const onResponse = parent === root;
    const onAssertion = parent?.namespaceURI === ASSERTION && parent.localName === 'Assertion';
    if (!onResponse && !onAssertion) throw new SamlRejected('a signature sits outside the Response and the Assertion (signature wrapping)');
    const refs = all(sig, DSIG, 'Reference');
    const id = attr(parent!, 'ID');
    if (refs.length !== 1 || id === undefined || attr(refs[0], 'URI') !== `#${id}`) {
      throw new SamlRejected(`a signature does not cover the ${onResponse ? 'Response' : 'Assertion'} it is placed on`);
    }
  }
  // a comment splits a text node: a signed "admin@corp<!---->.evil" must never be read as "admin@corp"
  const assertion = all(doc, ASSERTION, 'Assertion')[0];
  if (assertion && hasComment(assertion)) throw new SamlRejected('the assertion contains an XML comment (comment injection)');
  for (const m of all(doc, DSIG, 'SignatureMethod')) {
    if (!STRONG_SIGNATURES.has(attr(m, 'Algorithm') ?? ''))
      throw new SamlRejected(`the signature algorithm ${attr(m, 'Algorithm')} is not accepted (RSA or ECDSA with SHA-256 or stronger)`);
  }
  // the digest inside RSA-OAEP key transport is OAEP's mask parameter (SHA-1 there is the standard), not a signature digest
  for (const m of all(doc, DSIG, 'DigestMethod').filter((d) => (d.parentNode as Element | null)?.localName === 'Reference')) {
    if (!STRONG_DIGESTS.has(attr(m, 'Algorithm') ?? ''))
      throw new SamlRejected(`the digest algorithm ${attr(m, 'Algorithm')} is not accepted (SHA-256 or stronger)`);
  }
  for (const m of all(doc, XENC, 'EncryptionMethod')) {
    const inKey = (m.parentNode as Element | null)?.localName === 'EncryptedKey';
    const allowed = inKey ? STRONG_KEY_TRANSPORT : STRONG_CONTENT_ENCRYPTION;
    if (!allowed.has(attr(m, 'Algorithm') ?? '')) throw new SamlRejected(`the encryption algorithm ${attr(m, 'Algorithm')} is not accepted`);
  }
}

/** whether the response carries an EncryptedAssertion (an element, not the word in an attribute value) */
export function hasEncryptedAssertion(xml: string): boolean {
  return all(parseXml(xml, 'response'), ASSERTION, 'EncryptedAssertion').length > 0;
}

/**
 * The certificates the IdP's metadata lists for signing: those of its IDPSSODescriptor's
 * KeyDescriptors with `use="signing"` or no `use` (both uses). samlify pairs KeyDescriptors with
 * their `use` by position, so two without `use` leave it none, and a signing KeyDescriptor
 * without a certificate (a KeyName, a KeyValue) leaves it an empty list: then it verifies a
 * response with whatever certificate the response itself carries.
 */
export function signingCertificates(metadata: string): string[] {
  const doc = new DOMParser({ errorHandler: { warning: () => undefined } }).parseFromString(metadata, 'text/xml');
  const certs: string[] = [];
  for (const descriptor of doc ? all(doc, METADATA, 'IDPSSODescriptor') : []) {
    for (const key of children(descriptor, METADATA, 'KeyDescriptor')) {
      const use = attr(key, 'use');
      if (use !== undefined && use !== 'signing') continue;
      for (const cert of all(key, DSIG, 'X509Certificate')) {
        const body = (cert.textContent ?? '').replace(/\s+/g, '');
        if (body !== '' && !certs.includes(body)) certs.push(body);
      }
    }
  }
  return certs;
}

function hasComment(node: Node): boolean {
  // xmldom gives text nodes no childNodes at all
  for (const n of Array.from((node.childNodes ?? []) as NodeListOf<ChildNode>)) {
    if (n.nodeType === 8 || hasComment(n)) return true;
  }
  return false;
}

export interface Confirmation {
  method?: string;
  recipient?: string;
  notBefore?: string;
  notOnOrAfter?: string;
  inResponseTo?: string;
}

/** What convsync checks and records of the (verified, decrypted) response. */
export interface ResponseFacts {
  destination?: string;
  inResponseTo?: string;
  issueInstant?: string;
  assertionId?: string;
  assertionIssueInstant?: string;
  /** one list per AudienceRestriction: each must name us */
  audiences: string[][];
  notBefore?: string;
  notOnOrAfter?: string;
  confirmations: Confirmation[];
  nameIdFormat?: string;
}

export function readFacts(xml: string): ResponseFacts {
  const doc = parseXml(xml, 'response');
  const root = doc.documentElement!;
  const assertions = all(doc, ASSERTION, 'Assertion');
  if (assertions.length !== 1) throw new SamlRejected(`the response carries ${assertions.length} assertions; exactly one is accepted`);
  const a = assertions[0]!;
  const conditions = child(a, ASSERTION, 'Conditions');
  const subject = child(a, ASSERTION, 'Subject');
  const text = (el: Element) => (el.textContent ?? '').trim();
  return {
    destination: attr(root, 'Destination'),
    inResponseTo: attr(root, 'InResponseTo'),
    issueInstant: attr(root, 'IssueInstant'),
    assertionId: attr(a, 'ID'),
    assertionIssueInstant: attr(a, 'IssueInstant'),
    audiences: conditions ? children(conditions, ASSERTION, 'AudienceRestriction').map((r) => children(r, ASSERTION, 'Audience').map(text)) : [],
    notBefore: attr(conditions, 'NotBefore'),
    notOnOrAfter: attr(conditions, 'NotOnOrAfter'),
    confirmations: subject
      ? children(subject, ASSERTION, 'SubjectConfirmation').map((c) => {
          const data = child(c, ASSERTION, 'SubjectConfirmationData');
          return {
            method: attr(c, 'Method'),
            recipient: attr(data, 'Recipient'),
            notBefore: attr(data, 'NotBefore'),
            notOnOrAfter: attr(data, 'NotOnOrAfter'),
            inResponseTo: attr(data, 'InResponseTo'),
          };
        })
      : [],
    nameIdFormat: attr(child(subject, ASSERTION, 'NameID'), 'Format'),
  };
}

export interface Expectations {
  acsUrl: string;
  entityId: string;
  now: number;
  skewMs: number;
  /** how old a response may be */
  maxAgeMs: number;
}

function time(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new SamlRejected(`${what} is not a valid time: ${value}`);
  return t;
}

/**
 * The checks samlify leaves to its caller: audience, destination, recipient, bearer confirmation
 * and the times (with the configured skew). Returns when the assertion may be forgotten (its id
 * is kept until then against replay).
 */
export function checkFacts(f: ResponseFacts, e: Expectations): { assertionId: string; expiresAt: number } {
  if (!f.assertionId) throw new SamlRejected('the assertion has no ID');
  if (f.destination === undefined) throw new SamlRejected('the response names no Destination');
  if (f.destination !== e.acsUrl) throw new SamlRejected(`the response is addressed to ${f.destination}, not to ${e.acsUrl}`);
  if (f.audiences.length === 0) throw new SamlRejected('the assertion has no audience restriction');
  for (const list of f.audiences) {
    if (!list.includes(e.entityId)) throw new SamlRejected(`the assertion is meant for ${list.join(', ') || '(no audience)'}, not for ${e.entityId}`);
  }
  for (const [value, what] of [
    [f.issueInstant, 'the response'],
    [f.assertionIssueInstant, 'the assertion'],
  ] as const) {
    const t = time(value, `IssueInstant of ${what}`);
    if (t === undefined) throw new SamlRejected(`${what} has no IssueInstant`);
    if (t > e.now + e.skewMs) throw new SamlRejected(`${what} was issued in the future (${value}); check the clocks`);
    if (t < e.now - e.maxAgeMs - e.skewMs) throw new SamlRejected(`${what} was issued at ${value}, longer ago than accepted`);
  }
  const notBefore = time(f.notBefore, 'Conditions NotBefore');
  const notOnOrAfter = time(f.notOnOrAfter, 'Conditions NotOnOrAfter');
  if (notBefore !== undefined && notBefore > e.now + e.skewMs) throw new SamlRejected(`the assertion is not valid before ${f.notBefore}`);
  if (notOnOrAfter !== undefined && notOnOrAfter <= e.now - e.skewMs) throw new SamlRejected(`the assertion expired at ${f.notOnOrAfter}`);
  const bearer = f.confirmations.filter((c) => c.method === BEARER);
  if (bearer.length === 0) throw new SamlRejected('the assertion has no bearer subject confirmation');
  const problems: string[] = [];
  const valid = bearer.find((c) => {
    const until = time(c.notOnOrAfter, 'SubjectConfirmationData NotOnOrAfter');
    if (c.recipient !== e.acsUrl) problems.push(`its Recipient is ${c.recipient ?? '(none)'}, not ${e.acsUrl}`);
    else if (until === undefined) problems.push('it has no NotOnOrAfter');
    else if (until <= e.now - e.skewMs) problems.push(`it expired at ${c.notOnOrAfter}`);
    else if (c.inResponseTo !== f.inResponseTo)
      problems.push(`it answers ${c.inResponseTo ?? '(no request)'}, the response ${f.inResponseTo ?? '(no request)'}`);
    else return true;
    return false;
  });
  if (!valid) throw new SamlRejected(`the subject confirmation does not hold: ${problems.join('; ')}`);
  const until = Math.max(time(valid.notOnOrAfter, '')!, notOnOrAfter ?? 0);
  return { assertionId: f.assertionId, expiresAt: until + e.skewMs };
}
