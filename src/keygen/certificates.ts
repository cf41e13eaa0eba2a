/**
 * Key pairs and X.509 certificates for development, tests and truststores, made with
 * `@peculiar/x509` on WebCrypto (no hand-made ASN.1).
 * @module
 */
// @peculiar/x509 2.x needs a Reflect metadata polyfill loaded first (its README). Only this
// module loads it, so programs that only sign or verify never get the global polyfill.
import 'reflect-metadata'
import { KeyObject, X509Certificate as NodeX509Certificate, webcrypto } from 'node:crypto'
import { isIP } from 'node:net'
import * as x509 from '@peculiar/x509'

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0])

type CryptoKeyPair = webcrypto.CryptoKeyPair
type Algorithm = webcrypto.Algorithm
type EcdsaParams = webcrypto.EcdsaParams

/** Key types `keygen` makes. */
export type KeyType = 'rsa' | 'ec' | 'ed25519'
/** Curves for `ec` keys, by their JOSE names. */
export type Curve = 'P-256' | 'P-384' | 'P-521'

/** What key to make. */
export interface KeySpec {
  readonly type?: KeyType
  /** RSA modulus length; default 2048. */
  readonly bits?: number
  /** EC curve; default P-256. */
  readonly curve?: Curve
}

/** A WebCrypto key pair with its node:crypto views. */
export interface GeneratedKeyPair {
  readonly cryptoKeys: CryptoKeyPair
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  readonly signingAlgorithm: Algorithm | EcdsaParams
}

const EC_HASH: Record<Curve, string> = {
  'P-256': 'SHA-256',
  'P-384': 'SHA-384',
  'P-521': 'SHA-512',
}

/**
 * Makes a key pair.
 *
 * @example
 * ```ts
 * const { privateKey } = await generateKeyPair({ type: 'ec', curve: 'P-384' })
 * ```
 */
export async function generateKeyPair(spec: KeySpec = {}): Promise<GeneratedKeyPair> {
  const type = spec.type ?? 'rsa'
  let algorithm: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams | Algorithm
  let signingAlgorithm: Algorithm | EcdsaParams
  if (type === 'rsa') {
    algorithm = {
      name: 'RSASSA-PKCS1-v1_5',
      hash: 'SHA-256',
      modulusLength: spec.bits ?? 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
    }
    signingAlgorithm = algorithm
  } else if (type === 'ec') {
    const curve = spec.curve ?? 'P-256'
    algorithm = { name: 'ECDSA', namedCurve: curve }
    signingAlgorithm = { name: 'ECDSA', hash: EC_HASH[curve] }
  } else {
    algorithm = { name: 'Ed25519' }
    signingAlgorithm = algorithm
  }
  const cryptoKeys = (await webcrypto.subtle.generateKey(algorithm, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair
  return {
    cryptoKeys,
    privateKey: KeyObject.from(cryptoKeys.privateKey),
    publicKey: KeyObject.from(cryptoKeys.publicKey),
    signingAlgorithm,
  }
}

/** What certificate to issue. */
export interface CertificateSpec {
  /** Subject common name. */
  readonly subject: string
  /** The key the certificate is for. */
  readonly keys: GeneratedKeyPair
  /** The issuer; absent for a self-signed certificate. */
  readonly issuer?: { readonly certificate: NodeX509Certificate; readonly keys: GeneratedKeyPair }
  /** A CA certificate (basicConstraints CA:TRUE, keyCertSign); default false. */
  readonly ca?: boolean
  /** pathLenConstraint of a CA certificate. */
  readonly pathLength?: number
  readonly notBefore?: Date
  readonly notAfter?: Date
  /** Key usage of a leaf; default digitalSignature. `null` leaves the extension out. */
  readonly keyUsage?: number | null
  /**
   * subjectAltName entries (RFC 5280 §4.2.1.6) for a TLS server or client certificate:
   * DNS names, and IP addresses (recognised by `net.isIP`).
   */
  readonly altNames?: readonly string[]
}

/** Key usage flags (RFC 5280 §4.2.1.3), re-exported for `CertificateSpec.keyUsage`. */
export const KeyUsage = x509.KeyUsageFlags

function escapeDn(value: string): string {
  return value.replace(/([,+"\\<>;=])/g, '\\$1')
}

/**
 * Issues an X.509 v3 certificate: self-signed, or signed by `issuer`. CA certificates get
 * basicConstraints CA:TRUE and keyCertSign; leaves CA:FALSE and digitalSignature.
 *
 * @example
 * ```ts
 * const caKeys = await generateKeyPair()
 * const ca = await issueCertificate({ subject: 'Test CA', keys: caKeys, ca: true })
 * const leafKeys = await generateKeyPair()
 * const leaf = await issueCertificate({ subject: 'gateway', keys: leafKeys, issuer: { certificate: ca, keys: caKeys } })
 * ```
 */
export async function issueCertificate(spec: CertificateSpec): Promise<NodeX509Certificate> {
  const notBefore = spec.notBefore ?? new Date(Date.now() - 5 * 60_000)
  const notAfter = spec.notAfter ?? new Date(notBefore.getTime() + 365 * 24 * 3600_000)
  const name = `CN=${escapeDn(spec.subject)}`
  const signer = spec.issuer?.keys ?? spec.keys
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(
      spec.ca === true,
      spec.ca ? spec.pathLength : undefined,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(spec.keys.cryptoKeys.publicKey),
  ]
  if (spec.issuer) {
    extensions.push(
      await x509.AuthorityKeyIdentifierExtension.create(spec.issuer.keys.cryptoKeys.publicKey),
    )
  }
  const usage = spec.ca
    ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign
    : spec.keyUsage === undefined
      ? x509.KeyUsageFlags.digitalSignature
      : spec.keyUsage
  if (usage !== null) extensions.push(new x509.KeyUsagesExtension(usage, true))
  if (spec.altNames && spec.altNames.length > 0) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        spec.altNames.map((value) => ({ type: isIP(value) ? 'ip' : 'dns', value })),
      ),
    )
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    subject: name,
    issuer: spec.issuer ? new x509.X509Certificate(spec.issuer.certificate.raw).subjectName : name,
    notBefore,
    notAfter,
    signingAlgorithm: signer.signingAlgorithm,
    publicKey: spec.keys.cryptoKeys.publicKey,
    signingKey: signer.cryptoKeys.privateKey,
    extensions,
  })
  return new NodeX509Certificate(Buffer.from(cert.rawData))
}

/** PEM text of a private key (PKCS#8). */
export function privateKeyPem(keys: GeneratedKeyPair): string {
  return keys.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string
}
