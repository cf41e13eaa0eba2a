/**
 * Checks an HTTP Message Signature (RFC 9421) and its `Content-Digest` (RFC 9530) on a
 * request: the labelled signature, its tag, the components it must cover, its time window,
 * the key by `keyid` and the algorithm, and the digest against the body received.
 * @module
 */
import { constants, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { type BareItem, type InnerList, type Item, parseDictionary } from 'structured-headers'
import {
  algorithmSpec,
  HTTP_SIGNATURE_ALGORITHMS,
  type HttpSignatureAlgorithm,
  jwsAlgorithmFor,
  keyUnfitFor,
  signKeyInput,
} from '../core/algorithms.js'
import type { BodyDigest } from '../core/body-digest.js'
import { parseContentDigest } from '../core/content-digest.js'
import { forwardedTarget, forwardedUri } from '../core/forwarded.js'
import { ComponentError, signatureBase } from '../core/signature-base.js'
import {
  AlgorithmNotAllowedError,
  BodyHashMismatchError,
  ClaimInvalidError,
  ComponentNotCoveredError,
  SignatureInvalidError,
  TokenExpiredError,
  TokenFormatError,
  TokenMissingError,
  TokenNotYetValidError,
} from './errors.js'
import type { VerifyRequest } from './request.js'
import type { TrustedKey } from './trust.js'

/** A verified HTTP Message Signature. */
export interface VerifiedHttpSignature {
  readonly label: string
  readonly keyid: string
  readonly alg: HttpSignatureAlgorithm
  readonly created: number
  readonly expires: number
  readonly nonce: string
  readonly tag: string | undefined
  /** The names of the covered components (`@method`, `content-digest`, …), in order. */
  readonly components: readonly string[]
}

/** What {@link checkHttpSignature} needs besides the request. */
export interface HttpSignatureCheck {
  readonly label: string
  /** Required `tag`; `undefined` accepts any. */
  readonly tag: string | undefined
  readonly nowMs: number
  readonly toleranceMs: number
  /**
   * Refuse signatures `created` longer ago than this (the verifier's `maxTokenAge`), so a
   * signer's far-off `expires` does not decide alone how long a captured request replays.
   */
  readonly maxAgeMs?: number | undefined
  /** RFC 9421 names allowed. */
  readonly algorithms: ReadonlySet<string>
  /** The digest of the body received. */
  readonly digest: BodyDigest
  /** Components that must be covered besides `@method`, `@target-uri`, `content-digest`. */
  readonly alsoRequired?: readonly string[]
  /** The keys that may have signed, looked up by `keyid`. */
  readonly keys: (keyid: string) => Promise<readonly TrustedKey[]>
  /** The algorithm a key must be used with when nothing else says (the JWT's in `both`). */
  readonly algorithmHint?: HttpSignatureAlgorithm | undefined
}

function fieldText(request: VerifyRequest, name: string): string | undefined {
  const v = request.headers[name]
  if (v === undefined) return undefined
  return typeof v === 'string' ? v : v.join(', ')
}

function param<T extends BareItem>(
  params: Map<string, BareItem>,
  name: string,
  type: 'number' | 'string',
): T {
  const value = params.get(name)
  if (typeof value !== type || (type === 'number' && !Number.isInteger(value))) {
    throw new ClaimInvalidError(
      name,
      `signature parameter "${name}" is missing or not ${type === 'number' ? 'an integer' : 'a string'}`,
    )
  }
  return value as T
}

function verifyArguments(alg: HttpSignatureAlgorithm, key: KeyObject) {
  const jws = jwsAlgorithmFor(alg)
  if (!jws) return undefined
  const input = signKeyInput(key, jws)
  return {
    digest: algorithmSpec(jws).digest,
    // RFC 9421 §3.3.1 fixes a 64-byte salt, which the signer uses; npm http-message-signatures
    // signs with Node's default (the largest salt). The salt length does not weaken PSS, so
    // any is accepted, as most PSS verifiers do.
    key:
      alg === 'rsa-pss-sha512' ? { ...input, saltLength: constants.RSA_PSS_SALTLEN_AUTO } : input,
  }
}

/**
 * Verifies `signature` over `base` with `key` for an RFC 9421 algorithm: PKCS#1 v1.5 and
 * PSS (SHA-512, §3.3.1) for RSA, r || s for ECDSA (§3.3.4), Ed25519 (§3.3.6).
 *
 * @example
 * ```ts
 * verifyHttpSignatureBytes('ed25519', publicKey, base, signature) // true or false
 * ```
 */
export function verifyHttpSignatureBytes(
  alg: HttpSignatureAlgorithm,
  key: KeyObject,
  base: string,
  signature: Uint8Array,
): boolean {
  const args = verifyArguments(alg, key)
  if (!args) return false
  try {
    return cryptoVerify(args.digest, Buffer.from(base), args.key, signature)
  } catch {
    return false
  }
}

/**
 * {@link verifyHttpSignatureBytes} for the request path: RSA on the event loop (cheaper than a
 * thread-pool round trip, as for JWTs), ECDSA and Ed25519 on the crypto thread pool.
 */
function verifyOffLoop(
  alg: HttpSignatureAlgorithm,
  key: KeyObject,
  base: string,
  signature: Uint8Array,
): Promise<boolean> {
  const args = verifyArguments(alg, key)
  if (!args || alg.startsWith('rsa')) {
    return Promise.resolve(verifyHttpSignatureBytes(alg, key, base, signature))
  }
  return new Promise((resolve) => {
    cryptoVerify(args.digest, Buffer.from(base), args.key, signature, (err, ok) =>
      resolve(!err && ok),
    )
  })
}

function algorithmFromKey(key: KeyObject): HttpSignatureAlgorithm | undefined {
  const type = key.asymmetricKeyType
  if (type === 'ed25519') return 'ed25519'
  if (type === 'rsa-pss') return 'rsa-pss-sha512'
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve
    if (curve === 'prime256v1') return 'ecdsa-p256-sha256'
    if (curve === 'secp384r1') return 'ecdsa-p384-sha384'
  }
  // An rsa key fits both PKCS#1 v1.5 and PSS: only `alg` or the JWK can say which.
  return undefined
}

function algorithmFor(
  candidate: TrustedKey,
  declared: string | undefined,
  check: HttpSignatureCheck,
): HttpSignatureAlgorithm {
  const fromJwk =
    candidate.alg !== undefined
      ? (algorithmSpec(candidate.alg as never)?.rfc9421 ?? `(${candidate.alg})`)
      : undefined
  const alg = declared ?? fromJwk ?? check.algorithmHint ?? algorithmFromKey(candidate.key)
  if (alg === undefined) {
    throw new AlgorithmNotAllowedError(
      'signature has no "alg" parameter and the key does not determine the algorithm',
    )
  }
  if (
    !(HTTP_SIGNATURE_ALGORITHMS as readonly string[]).includes(alg) ||
    !check.algorithms.has(alg)
  ) {
    throw new AlgorithmNotAllowedError(
      `algorithm ${JSON.stringify(alg.slice(0, 30))} is not allowed`,
    )
  }
  // RFC 9421 §3.2 step 6: a key bound to an algorithm is used with that one only.
  for (const bound of [fromJwk, check.algorithmHint]) {
    if (bound !== undefined && bound !== alg) {
      throw new AlgorithmNotAllowedError(`the key for this signature is for ${bound}, not ${alg}`)
    }
  }
  const unfit =
    keyUnfitFor(candidate.key, jwsAlgorithmFor(alg)!) ??
    (alg === 'ed25519' && candidate.key.asymmetricKeyType !== 'ed25519'
      ? `algorithm ed25519 needs an Ed25519 key, but the key is ${candidate.key.asymmetricKeyType}`
      : undefined)
  if (unfit !== undefined) throw new AlgorithmNotAllowedError(unfit)
  return alg as HttpSignatureAlgorithm
}

/**
 * Checks the HTTP Message Signature labelled `check.label` on a request. The nonce is
 * returned for the caller's replay store; nothing else in the signature is believed before
 * the signature verifies.
 *
 * @example
 * ```ts
 * const sig = await checkHttpSignature(request, { label: 'sig1', tag: 'kong-upstream-jwt', nowMs: Date.now(), toleranceMs: 30_000, algorithms, digest, keys })
 * ```
 * @throws {VerificationError}
 */
export async function checkHttpSignature(
  request: VerifyRequest,
  check: HttpSignatureCheck,
): Promise<VerifiedHttpSignature> {
  const inputText = fieldText(request, 'signature-input')
  const signatureText = fieldText(request, 'signature')
  if (inputText === undefined || signatureText === undefined) {
    throw new TokenMissingError('no Signature-Input and Signature headers (RFC 9421)')
  }
  let input: Item | InnerList | undefined
  let signatureItem: Item | InnerList | undefined
  try {
    input = parseDictionary(inputText).get(check.label)
    signatureItem = parseDictionary(signatureText).get(check.label)
  } catch (err) {
    throw new TokenFormatError('Signature-Input or Signature is not a structured dictionary', {
      cause: err,
    })
  }
  if (input === undefined || signatureItem === undefined) {
    throw new TokenMissingError(`no HTTP Message Signature labelled ${check.label}`)
  }
  if (!Array.isArray(input[0]) || !(signatureItem[0] instanceof ArrayBuffer)) {
    throw new TokenFormatError(`signature ${check.label} is not an inner list and a byte sequence`)
  }
  const list = input as InnerList
  const signature = new Uint8Array(signatureItem[0])
  const params = list[1]
  const tag = params.get('tag')
  if (check.tag !== undefined && tag !== check.tag) {
    throw new ClaimInvalidError('tag', `signature tag is not ${JSON.stringify(check.tag)}`)
  }
  const components = list[0].map((item) => item[0])
  const plain = new Set(list[0].filter((item) => item[1].size === 0).map((item) => item[0]))
  for (const required of [
    '@method',
    '@target-uri',
    'content-digest',
    ...(check.alsoRequired ?? []),
  ]) {
    if (!plain.has(required)) {
      throw new ComponentNotCoveredError(required, `the signature does not cover ${required}`)
    }
  }
  const created = param<number>(params, 'created', 'number')
  const expires = param<number>(params, 'expires', 'number')
  const nonce = param<string>(params, 'nonce', 'string')
  const keyid = param<string>(params, 'keyid', 'string')
  const declared = params.get('alg')
  if (declared !== undefined && typeof declared !== 'string') {
    throw new ClaimInvalidError('alg', 'signature parameter "alg" is not a string')
  }
  if (created * 1000 > check.nowMs + check.toleranceMs) {
    throw new TokenNotYetValidError('signature "created" is in the future', 'created')
  }
  if (expires * 1000 <= check.nowMs - check.toleranceMs) {
    throw new TokenExpiredError('signature has expired ("expires" has passed)', 'expires')
  }
  let base: string
  try {
    base = signatureBase(list, {
      method: request.method?.toUpperCase(),
      targetUri: receivedTargetUri(request.url),
      headers: request.headers,
    })
  } catch (err) {
    if (!(err instanceof ComponentError)) throw err
    throw new SignatureInvalidError(`signature cannot be checked: ${err.message}`, { cause: err })
  }
  const candidates = await check.keys(keyid)
  let alg: HttpSignatureAlgorithm | undefined
  for (const candidate of candidates) {
    let fit: HttpSignatureAlgorithm
    try {
      fit = algorithmFor(candidate, declared, check)
    } catch (err) {
      if (candidates.length === 1) throw err
      continue
    }
    if (await verifyOffLoop(fit, candidate.key, base, signature)) {
      alg = fit
      break
    }
  }
  if (!alg) throw new SignatureInvalidError('HTTP Message Signature does not verify')
  // After the signature, as the JWT's `iat`: the message names the verifier's setting, which
  // a sender without a key has no business learning.
  if (
    check.maxAgeMs !== undefined &&
    check.nowMs - created * 1000 > check.maxAgeMs + check.toleranceMs
  ) {
    throw new TokenExpiredError(
      `signature is older than ${check.maxAgeMs / 1000} s ("created")`,
      'created',
    )
  }
  // The header is authenticated now; it must describe the body that arrived.
  let digests: ReadonlyMap<string, Buffer>
  try {
    digests = parseContentDigest(fieldText(request, 'content-digest') ?? '').digests
  } catch (err) {
    throw new TokenFormatError('Content-Digest is not a structured dictionary', { cause: err })
  }
  // RFC 9530 §2: the sender chooses; sha-256 is checked when present, else sha-512.
  const sha256 = digests.get('sha-256')
  const sha512 = sha256 ? undefined : digests.get('sha-512')
  if (!sha256 && !sha512) {
    throw new BodyHashMismatchError(
      'Content-Digest has no sha-256 or sha-512 member',
      'content-digest',
    )
  }
  if (sha512 && check.digest.sha512 === undefined) {
    // Only when the caller passed a digest it made itself, without the SHA-512.
    throw new BodyHashMismatchError(
      'Content-Digest has only a sha-512 member, and the body was given as a digest without one',
      'content-digest',
    )
  }
  const matches = sha256
    ? sha256.toString('hex') === check.digest.sha256
    : sha512!.toString('hex') === check.digest.sha512
  if (!matches) {
    throw new BodyHashMismatchError(
      'Content-Digest does not match the request body',
      'content-digest',
    )
  }
  return {
    label: check.label,
    keyid,
    alg,
    created,
    expires,
    nonce,
    tag: typeof tag === 'string' ? tag : undefined,
    components: components as string[],
  }
}

/**
 * `@target-uri` as the upstream received it, in the form the signer signs ({@link forwardedUri}):
 * scheme and host lower-cased and a default port dropped, so `Host: Orders:80` and `orders`
 * name one URI; path and query stay as received. A URL that is not absolute is passed on as it
 * is and fails in the signature base with its own message.
 */
function receivedTargetUri(url: string | undefined): string | undefined {
  const target = url === undefined ? undefined : forwardedTarget(url)
  return target ? forwardedUri(target) : url
}
