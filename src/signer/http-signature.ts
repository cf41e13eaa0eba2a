/**
 * HTTP Message Signatures (RFC 9421) for a request as it is forwarded, with its
 * `Content-Digest` (RFC 9530): the headers the signer adds in `signature_mode`
 * `http-signature` and `both`.
 * @module
 */
import { type KeyObject, sign } from 'node:crypto'
import { type InnerList, type Item, serializeDictionary } from 'structured-headers'
import { rfc9421Algorithm } from '../core/algorithms.js'
import { contentDigest } from '../core/content-digest.js'
import { SigningError } from '../core/errors.js'
import { forwardedUri } from '../core/forwarded.js'
import { type HttpMessage, signatureBase } from '../core/signature-base.js'
import type { RequestFacts } from './facts.js'
import type { SigningKey } from './jws.js'

/** The header names of RFC 9421 §4 and RFC 9530 §2, as the signer sets them. */
export const SIGNATURE_HEADERS = {
  contentDigest: 'Content-Digest',
  signatureInput: 'Signature-Input',
  signature: 'Signature',
} as const

/** The parameters of one signature (RFC 9421 §2.3). */
export interface SignatureParameters {
  /** Label in the `Signature-Input` and `Signature` dictionaries. */
  readonly label: string
  readonly created: number
  readonly expires: number
  readonly nonce: string
  readonly keyid: string
  readonly tag: string
}

/** What the signature covers besides the request line and the digest, in `both` mode. */
export interface CoveredToken {
  /** The JWT header's name; covered in lower case as RFC 9421 §2.1 requires. */
  readonly name: string
  readonly value: string
}

/** The three headers, ready to set, and the signature base they sign (for tests and logs). */
export interface HttpSignatureHeaders {
  readonly headers: {
    readonly 'Content-Digest': string
    readonly 'Signature-Input': string
    readonly Signature: string
  }
  /** The RFC 9421 §2.5 signature base that was signed. No secret in it. */
  readonly base: string
}

function single(value: string | readonly string[] | undefined): string | undefined {
  if (value === undefined) return undefined
  return typeof value === 'string' ? value : value.length > 0 ? value.join(', ') : undefined
}

/**
 * The target URI of the request as forwarded (RFC 9110 §7.1), from the facts an edge gives:
 * scheme, the Host header value, the path and the raw query — {@link forwardedUri}, the same
 * function that gives `htu`, so both bind the same URI (scheme and host lower-cased, a default
 * port dropped; path and query byte for byte).
 *
 * @example
 * ```ts
 * targetUri({ scheme: 'https', host: 'orders.internal:8443', path: '/orders', query: 'a=1' })
 * // 'https://orders.internal:8443/orders?a=1'
 * ```
 * @throws {SigningError} when the host is not known: the signature must not cover a guess.
 */
export function targetUri(facts: RequestFacts): string {
  if (!facts.host) {
    throw new SigningError('an HTTP Message Signature needs the host the request is forwarded to')
  }
  return forwardedUri({
    scheme: facts.scheme,
    host: facts.host,
    path: facts.path,
    query: facts.query,
  })
}

/**
 * Builds the covered components and parameters for a request (RFC 9421 §2.3, §2.5):
 * `@method`, `@target-uri`, `content-digest`, `content-type` when the request has one, and
 * the JWT header when given; then `created`, `expires`, `nonce`, `keyid`, `alg`, `tag`.
 *
 * @example
 * ```ts
 * const { input, message } = signatureInput(facts, params, 'ed25519')
 * ```
 */
export function signatureInput(
  facts: RequestFacts,
  params: SignatureParameters,
  alg: string,
  token?: CoveredToken,
): { input: InnerList; message: HttpMessage; digest: string } {
  if (!facts.method) {
    throw new SigningError('an HTTP Message Signature needs the request method')
  }
  const digest = contentDigest(facts.body?.size ? facts.body.sha256 : undefined)
  const headers: Record<string, string> = { 'content-digest': digest }
  const none = new Map()
  const covered: Item[] = [
    ['@method', none],
    ['@target-uri', none],
    ['content-digest', none],
  ]
  const contentType = single(facts.headers?.['content-type'])
  if (contentType !== undefined) {
    headers['content-type'] = contentType
    covered.push(['content-type', none])
  }
  if (token) {
    const name = token.name.toLowerCase()
    headers[name] = token.value
    covered.push([name, none])
  }
  const input: InnerList = [
    covered,
    new Map<string, string | number>([
      ['created', params.created],
      ['expires', params.expires],
      ['nonce', params.nonce],
      ['keyid', params.keyid],
      ['alg', alg],
      ['tag', params.tag],
    ]),
  ]
  return {
    input,
    message: { method: facts.method.toUpperCase(), targetUri: targetUri(facts), headers },
    digest,
  }
}

function rfc9421Name(key: SigningKey): string {
  // RFC 9421 §6.2.2: an Ed448 key signs JWTs (EdDSA) but has no HTTP signature algorithm.
  const name = rfc9421Algorithm(key.alg, key.input.key as KeyObject)
  if (!name)
    throw new SigningError(`HTTP Message Signatures cannot be made with this ${key.alg} key`)
  return name
}

/**
 * Signs a request with HTTP Message Signatures on the crypto thread pool and returns the
 * `Content-Digest`, `Signature-Input` and `Signature` headers.
 *
 * @example
 * ```ts
 * const { headers } = await signHttpMessage(facts, params, signingKey)
 * ```
 * @throws {SigningError}
 */
export async function signHttpMessage(
  facts: RequestFacts,
  params: SignatureParameters,
  key: SigningKey,
  token?: CoveredToken,
): Promise<HttpSignatureHeaders> {
  const alg = rfc9421Name(key)
  const { input, message, digest } = signatureInput(facts, params, alg, token)
  const base = signatureBase(input, message)
  const signature = await new Promise<Buffer>((resolve, reject) => {
    sign(key.digest, Buffer.from(base), key.input, (err, sig) => {
      if (err) reject(new SigningError(`signing with ${alg} failed`, { cause: err }))
      else resolve(sig)
    })
  })
  return {
    headers: {
      'Content-Digest': digest,
      'Signature-Input': serializeDictionary(new Map([[params.label, input]])),
      Signature: serializeDictionary(new Map([[params.label, [signature, new Map()]]])),
    },
    base,
  }
}
