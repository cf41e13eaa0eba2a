import type { X509Certificate } from 'node:crypto'
import { certificateConstraints, KEY_USAGE } from '../core/x509-extensions.js'
import { CertificateError } from './errors.js'

/** Longest chain accepted (leaf included), against resource abuse. */
export const MAX_CHAIN_LENGTH = 8

/** A chain that leads to a trust anchor. */
export interface ValidatedChain {
  readonly leaf: X509Certificate
  /** The certificates used, leaf first, ending with the anchor. */
  readonly path: readonly X509Certificate[]
  /** Earliest notAfter on the path, in ms: the result may be cached until then. */
  readonly notAfter: number
}

function checkValidity(cert: X509Certificate, name: string, now: number, toleranceMs: number) {
  if (Date.parse(cert.validTo) + toleranceMs < now) {
    throw new CertificateError('ERR_CERT_EXPIRED', `${name} expired on ${cert.validTo}`)
  }
  if (Date.parse(cert.validFrom) - toleranceMs > now) {
    throw new CertificateError(
      'ERR_CERT_NOT_YET_VALID',
      `${name} is not valid before ${cert.validFrom}`,
    )
  }
}

function issued(child: X509Certificate, issuer: X509Certificate): boolean {
  return child.checkIssued(issuer) && child.verify(issuer.publicKey)
}

function checkIssuer(issuer: X509Certificate, name: string, caBelow: number) {
  const c = certificateConstraints(issuer)
  if (!c.ca) {
    throw new CertificateError('ERR_CERT_UNTRUSTED', `${name} issued a certificate but is not a CA`)
  }
  if (c.keyUsage !== undefined && (c.keyUsage & KEY_USAGE.keyCertSign) === 0) {
    throw new CertificateError(
      'ERR_CERT_UNTRUSTED',
      `${name} is not allowed to sign certificates (keyUsage)`,
    )
  }
  if (c.pathLength !== undefined && caBelow > c.pathLength) {
    throw new CertificateError(
      'ERR_CERT_UNTRUSTED',
      `${name} allows ${c.pathLength} intermediate(s) below it, the chain has ${caBelow}`,
    )
  }
}

/**
 * Validates an `x5c` chain (leaf first) against trust anchors, in the spirit of RFC 5280 §6:
 * every signature, every validity period (with tolerance), basicConstraints cA and pathLen and
 * keyCertSign on issuers, digitalSignature on the leaf when it has keyUsage. Every anchor is
 * trusted as it is (a bundle may hold an intermediate); the chain ends at the first
 * certificate that is an anchor or was issued by one. Certificates in `x5c` after that point
 * are ignored.
 *
 * @example
 * ```ts
 * const { leaf } = validateChain(decodeX5c(header.x5c), anchors, Date.now(), 30_000)
 * ```
 * @throws {CertificateError} `ERR_CERT_UNTRUSTED`, `ERR_CERT_EXPIRED` or `ERR_CERT_NOT_YET_VALID`
 */
export function validateChain(
  chain: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  now: number,
  toleranceMs: number,
): ValidatedChain {
  if (chain.length === 0) throw new CertificateError('ERR_CERT_UNTRUSTED', 'x5c is empty')
  if (chain.length > MAX_CHAIN_LENGTH) {
    throw new CertificateError(
      'ERR_CERT_UNTRUSTED',
      `x5c has more than ${MAX_CHAIN_LENGTH} certificates`,
    )
  }
  const leaf = chain[0]!
  const leafUsage = certificateConstraints(leaf).keyUsage
  if (leafUsage !== undefined && (leafUsage & KEY_USAGE.digitalSignature) === 0) {
    throw new CertificateError(
      'ERR_CERT_UNTRUSTED',
      'the leaf certificate may not sign (keyUsage lacks digitalSignature)',
    )
  }
  const anchorPrints = new Set(anchors.map((a) => a.fingerprint256))
  const path: X509Certificate[] = []
  let notAfter = Number.POSITIVE_INFINITY
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i]!
    const name =
      i === 0 ? 'the leaf certificate' : `x5c[${i}] (${cert.subject.replaceAll('\n', ', ')})`
    checkValidity(cert, name, now, toleranceMs)
    path.push(cert)
    notAfter = Math.min(notAfter, Date.parse(cert.validTo))
    if (anchorPrints.has(cert.fingerprint256)) return { leaf, path, notAfter }
    // Intermediates between this certificate and the leaf, for the issuer's pathLen.
    const caBelow = i
    const next = chain[i + 1]
    if (next) {
      if (!issued(cert, next)) {
        throw new CertificateError('ERR_CERT_UNTRUSTED', `x5c[${i + 1}] did not issue ${name}`)
      }
      checkIssuer(next, `x5c[${i + 1}]`, caBelow)
      continue
    }
    const anchor = anchors.find((a) => issued(cert, a))
    if (!anchor) {
      throw new CertificateError(
        'ERR_CERT_UNTRUSTED',
        `${name} was not issued by a trusted CA (issuer ${cert.issuer.replaceAll('\n', ', ')})`,
      )
    }
    checkIssuer(anchor, `trust anchor ${anchor.subject.replaceAll('\n', ', ')}`, caBelow)
    checkValidity(anchor, `trust anchor ${anchor.subject.replaceAll('\n', ', ')}`, now, toleranceMs)
    path.push(anchor)
    return { leaf, path, notAfter: Math.min(notAfter, Date.parse(anchor.validTo)) }
  }
  // Unreachable: the loop returns or throws on its last certificate.
  throw new CertificateError('ERR_CERT_UNTRUSTED', 'x5c does not lead to a trusted CA')
}
