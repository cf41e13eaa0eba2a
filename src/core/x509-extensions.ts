import type { X509Certificate } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import {
  BasicConstraints,
  Certificate,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  KeyUsage,
  KeyUsageFlags,
} from '@peculiar/asn1-x509'

/** The extensions path validation needs, which node:crypto does not expose. */
export interface CertificateConstraints {
  /** basicConstraints cA (RFC 5280 §4.2.1.9); false when the extension is absent. */
  readonly ca: boolean
  /** pathLenConstraint, when present. */
  readonly pathLength: number | undefined
  /** keyUsage bits (RFC 5280 §4.2.1.3), or undefined when the extension is absent. */
  readonly keyUsage: number | undefined
}

/** RFC 5280 key usage bits, as `@peculiar/asn1-x509` numbers them. */
export const KEY_USAGE = {
  digitalSignature: KeyUsageFlags.digitalSignature,
  keyCertSign: KeyUsageFlags.keyCertSign,
} as const

/**
 * Reads basicConstraints and keyUsage from a certificate's DER with a maintained ASN.1 schema
 * library (no hand-made ASN.1).
 *
 * @example
 * ```ts
 * const { ca, pathLength } = certificateConstraints(new X509Certificate(der))
 * ```
 */
export function certificateConstraints(cert: X509Certificate): CertificateConstraints {
  const parsed = AsnConvert.parse(cert.raw, Certificate)
  let ca = false
  let pathLength: number | undefined
  let keyUsage: number | undefined
  for (const ext of parsed.tbsCertificate.extensions ?? []) {
    if (ext.extnID === id_ce_basicConstraints) {
      const bc = AsnConvert.parse(ext.extnValue, BasicConstraints)
      ca = bc.cA
      pathLength = bc.pathLenConstraint
    } else if (ext.extnID === id_ce_keyUsage) {
      keyUsage = AsnConvert.parse(ext.extnValue, KeyUsage).toNumber()
    }
  }
  return { ca, pathLength, keyUsage }
}
