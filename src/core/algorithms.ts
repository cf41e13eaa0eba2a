import { constants, type KeyObject, type SignKeyObjectInput } from 'node:crypto'
import { KeyError } from './errors.js'

/** The JWS algorithms the signer supports (RFC 7518 §3.1, RFC 8037 §3.1). */
export const ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const

/** A JWS `alg` value this package signs and verifies with. */
export type Algorithm = (typeof ALGORITHMS)[number]

/** How node:crypto computes one algorithm, and which keys fit it. */
export interface AlgorithmSpec {
  /** Digest name for `crypto.sign`, `null` for EdDSA (the digest is part of the scheme). */
  readonly digest: string | null
  /** `KeyObject.asymmetricKeyType` values that fit. */
  readonly keyTypes: readonly string[]
  /** The one named curve an ECDSA algorithm is defined on (RFC 7518 §3.4). */
  readonly curve?: string
  /** JWK `crv` for the curve, as in RFC 7518 §6.2.1.1. */
  readonly jwkCurve?: string
  /** Signature length in bytes of an ECDSA signature in JOSE (r || s) form. */
  readonly signatureLength?: number
  readonly padding?: number
  /**
   * The HTTP Message Signatures algorithm name (RFC 9421 §6.2.2), where the registry has one
   * for this JWS algorithm. For EdDSA it holds for Ed25519 keys only (`ed25519`); Ed448 has none.
   */
  readonly rfc9421?: HttpSignatureAlgorithm
}

/** The RFC 9421 algorithm names this package signs and verifies with (§3.3). */
export const HTTP_SIGNATURE_ALGORITHMS = [
  'rsa-v1_5-sha256',
  'rsa-pss-sha512',
  'ecdsa-p256-sha256',
  'ecdsa-p384-sha384',
  'ed25519',
] as const

/** An RFC 9421 `alg` value this package supports. */
export type HttpSignatureAlgorithm = (typeof HTTP_SIGNATURE_ALGORITHMS)[number]

const RSA_TYPES = ['rsa'] as const
const PSS_TYPES = ['rsa', 'rsa-pss'] as const

const SPECS: Record<Algorithm, AlgorithmSpec> = {
  RS256: {
    digest: 'sha256',
    keyTypes: RSA_TYPES,
    padding: constants.RSA_PKCS1_PADDING,
    rfc9421: 'rsa-v1_5-sha256',
  },
  RS384: { digest: 'sha384', keyTypes: RSA_TYPES, padding: constants.RSA_PKCS1_PADDING },
  RS512: { digest: 'sha512', keyTypes: RSA_TYPES, padding: constants.RSA_PKCS1_PADDING },
  PS256: { digest: 'sha256', keyTypes: PSS_TYPES, padding: constants.RSA_PKCS1_PSS_PADDING },
  PS384: { digest: 'sha384', keyTypes: PSS_TYPES, padding: constants.RSA_PKCS1_PSS_PADDING },
  PS512: {
    digest: 'sha512',
    keyTypes: PSS_TYPES,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    rfc9421: 'rsa-pss-sha512',
  },
  ES256: {
    digest: 'sha256',
    keyTypes: ['ec'],
    curve: 'prime256v1',
    jwkCurve: 'P-256',
    signatureLength: 64,
    rfc9421: 'ecdsa-p256-sha256',
  },
  ES384: {
    digest: 'sha384',
    keyTypes: ['ec'],
    curve: 'secp384r1',
    jwkCurve: 'P-384',
    signatureLength: 96,
    rfc9421: 'ecdsa-p384-sha384',
  },
  ES512: {
    digest: 'sha512',
    keyTypes: ['ec'],
    curve: 'secp521r1',
    jwkCurve: 'P-521',
    signatureLength: 132,
  },
  EdDSA: { digest: null, keyTypes: ['ed25519', 'ed448'], rfc9421: 'ed25519' },
}

/** Smallest RSA modulus accepted, in bits (NIST SP 800-131A; RFC 7518 §3.3 requires 2048). */
export const MIN_RSA_BITS = 2048

/**
 * The node:crypto parameters of a JWS algorithm.
 *
 * @example
 * ```ts
 * algorithmSpec('ES256').curve // 'prime256v1'
 * ```
 */
export function algorithmSpec(alg: Algorithm): AlgorithmSpec {
  return SPECS[alg]
}

/** True when `value` names a supported algorithm exactly (case matters: `EdDSA`, not `Ed25519`). */
export function isAlgorithm(value: unknown): value is Algorithm {
  return typeof value === 'string' && Object.hasOwn(SPECS, value)
}

// Node's key type names as people write them, with the article their spoken name takes.
const KEY_TYPE_NAMES: Readonly<Record<string, readonly [string, string]>> = {
  rsa: ['an', 'RSA'],
  'rsa-pss': ['an', 'RSA-PSS'],
  ec: ['an', 'EC'],
  ed25519: ['an', 'Ed25519'],
  ed448: ['an', 'Ed448'],
  x25519: ['an', 'X25519'],
  x448: ['an', 'X448'],
  dsa: ['a', 'DSA'],
  dh: ['a', 'DH'],
}

/** `['ec']` → `an EC key`; `['rsa', 'rsa-pss']` → `an RSA or RSA-PSS key`. */
function keyTypePhrase(types: readonly string[]): string {
  const [article] = KEY_TYPE_NAMES[types[0] ?? ''] ?? ['a']
  const names = types.map((t) => KEY_TYPE_NAMES[t]?.[1] ?? t)
  return `${article} ${names.join(' or ')} key`
}

/**
 * Why `key` cannot sign or verify with `alg` (key type, named curve for ECDSA, at least 2048
 * bits for RSA), or `undefined` when it can. The reason names no file: callers add where the
 * key came from, and the verifier reports it as its own error.
 *
 * @example
 * ```ts
 * keyUnfitFor(createPublicKey(pem), 'ES256') // 'algorithm ES256 needs an EC key, but the key is an RSA key'
 * ```
 */
export function keyUnfitFor(key: KeyObject, alg: Algorithm, where = ''): string | undefined {
  const spec = SPECS[alg]
  const type = key.asymmetricKeyType ?? 'unknown'
  const at = where ? ` ${where}` : ''
  if (!spec.keyTypes.includes(type)) {
    return `algorithm ${alg} needs ${keyTypePhrase(spec.keyTypes)}, but the key${at} is ${type === 'unknown' ? 'of an unknown type' : keyTypePhrase([type])}`
  }
  const details = key.asymmetricKeyDetails ?? {}
  if (spec.curve && details.namedCurve !== spec.curve) {
    return `algorithm ${alg} needs an EC key on ${spec.jwkCurve}, but the key${at} is on ${details.namedCurve ?? 'an unknown curve'}`
  }
  if (type.startsWith('rsa') && (details.modulusLength ?? 0) < MIN_RSA_BITS) {
    return `RSA keys must have at least ${MIN_RSA_BITS} bits, but the key${at} has ${details.modulusLength}`
  }
  return undefined
}

/**
 * Throws a `KeyError` (`ERR_KEY_UNSUITABLE`) unless `key` can sign or verify with `alg`
 * (see `keyUnfitFor`).
 *
 * @example
 * ```ts
 * assertKeyFitsAlgorithm(createPublicKey(pem), 'RS256', 'cert.pem')
 * ```
 */
export function assertKeyFitsAlgorithm(key: KeyObject, alg: Algorithm, file?: string): void {
  const reason = keyUnfitFor(key, alg, file ? `in ${file}` : '')
  if (reason !== undefined) throw new KeyError('ERR_KEY_UNSUITABLE', reason, file)
}

/** The key argument for `crypto.sign` / `crypto.verify` with the JOSE encodings of `alg`. */
export function signKeyInput(key: KeyObject, alg: Algorithm): SignKeyObjectInput {
  const spec = SPECS[alg]
  if (spec.keyTypes.includes('ec')) return { key, dsaEncoding: 'ieee-p1363' }
  if (spec.padding === constants.RSA_PKCS1_PSS_PADDING) {
    // RFC 7518 §3.5: the salt is as long as the digest output.
    return { key, padding: spec.padding, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
  }
  return { key }
}

/**
 * The RFC 9421 algorithm name for signing with `alg` and `key`, or `undefined` when the HTTP
 * Message Signatures registry (RFC 9421 §6.2.2) has none (RS384, RS512, PS256, PS384, ES512,
 * EdDSA with Ed448).
 *
 * @example
 * ```ts
 * rfc9421Algorithm('ES256', key) // 'ecdsa-p256-sha256'
 * ```
 */
export function rfc9421Algorithm(
  alg: Algorithm,
  key?: KeyObject,
): HttpSignatureAlgorithm | undefined {
  if (alg === 'EdDSA' && key !== undefined && key.asymmetricKeyType !== 'ed25519') return undefined
  return SPECS[alg].rfc9421
}

/**
 * The JWS algorithm behind an RFC 9421 algorithm name, or `undefined` for a name this package
 * does not support (HMAC, or anything not in {@link HTTP_SIGNATURE_ALGORITHMS}).
 *
 * @example
 * ```ts
 * jwsAlgorithmFor('rsa-pss-sha512') // 'PS512'
 * ```
 */
export function jwsAlgorithmFor(name: string): Algorithm | undefined {
  for (const alg of ALGORITHMS) if (SPECS[alg].rfc9421 === name) return alg
  return undefined
}

/**
 * Why `alg` cannot sign HTTP Message Signatures, or `undefined` when it can: the reason
 * `signature_mode` http-signature and both refuse it when the configuration is loaded.
 *
 * @example
 * ```ts
 * httpSignatureProblem('RS384') // 'RFC 9421 defines no algorithm for RS384; …'
 * ```
 */
export function httpSignatureProblem(alg: Algorithm): string | undefined {
  if (SPECS[alg].rfc9421) return undefined
  const usable = ALGORITHMS.filter((a) => SPECS[a].rfc9421)
    .map((a) => `${a} (${SPECS[a].rfc9421})`)
    .join(', ')
  return `RFC 9421 defines no algorithm for ${alg}; HTTP Message Signatures need one of ${usable}`
}
