/**
 * The checks that tie a verified token to the request it came with: the body hash and the
 * request binding. Pure functions of the claims and the request.
 * @module
 */
import { queryHash } from '../core/binding.js'
import {
  type BodyDigest,
  type DigestOptions,
  digestBytes,
  digestStream,
  sha512Hex,
} from '../core/body-digest.js'
import { forwardedTarget, forwardedUri } from '../core/forwarded.js'
import { BindingMismatchError, BodyHashMismatchError, ClaimInvalidError } from './errors.js'
import type { VerifyRequest } from './request.js'

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
const HEX64 = /^[0-9a-f]{64}$/

function isDigest(body: unknown): body is BodyDigest {
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as BodyDigest).sha256 === 'string' &&
    typeof (body as BodyDigest).size === 'number'
  )
}

/**
 * The digest of a request body given as bytes, a stream or a digest (which is taken as it is:
 * it has a SHA-512 only if its maker put one in).
 */
export async function digestOf(
  body: VerifyRequest['body'],
  options?: DigestOptions,
): Promise<BodyDigest> {
  if (body === undefined || body === null) {
    return options?.sha512 ? laterSha512('') : { size: 0, sha256: EMPTY_SHA256 }
  }
  if (typeof body === 'string' || body instanceof Uint8Array) {
    return options?.sha512 ? laterSha512(body) : digestBytes(body)
  }
  if (isDigest(body)) return body
  // A stream is read once: both hashes as it goes.
  return digestStream(body, options)
}

/**
 * The digest of bytes, with the SHA-512 made when first read: after the signature verifies,
 * so an unsigned `Content-Digest` cannot make the verifier hash the body a second time.
 */
function laterSha512(body: Uint8Array | string): BodyDigest {
  const { size, sha256 } = digestBytes(body)
  let sha512: string | undefined
  return {
    size,
    sha256,
    get sha512() {
      sha512 ??= sha512Hex(body)
      return sha512
    },
  }
}

/** Checks `htm`, `htu` and `htq` whenever present; all three when `required`. */
export function checkBinding(
  claims: Record<string, unknown>,
  request: VerifyRequest,
  required: boolean,
) {
  const present = ['htm', 'htu', 'htq'].filter((c) => claims[c] !== undefined)
  if (present.length === 0) {
    if (required)
      throw new BindingMismatchError(
        'htm',
        'token is not bound to the request (no htm/htu/htq claims)',
      )
    return
  }
  if (required && present.length < 3) {
    throw new BindingMismatchError(
      'htu',
      'token binding is incomplete (htm, htu and htq are required)',
    )
  }
  if (claims.htm !== undefined) {
    if (!request.method)
      throw new BindingMismatchError(
        'htm',
        'token is bound to a method but the request method is not known',
      )
    if (claims.htm !== request.method.toUpperCase())
      throw new BindingMismatchError('htm', '"htm" claim does not match the request method')
  }
  if (claims.htu === undefined && claims.htq === undefined) return
  if (!request.url)
    throw new BindingMismatchError(
      'htu',
      'token is bound to a URL but the request URL is not known',
    )
  const target = forwardedTarget(request.url)
  if (!target) throw new BindingMismatchError('htu', 'the request URL is not absolute')
  if (claims.htu !== undefined && claims.htu !== forwardedUri(target, { query: false })) {
    throw new BindingMismatchError('htu', '"htu" claim does not match the request URL')
  }
  if (claims.htq !== undefined && claims.htq !== queryHash(target.query)) {
    throw new BindingMismatchError('htq', '"htq" claim does not match the request query')
  }
}

/** Checks `payloadhash` against the digest of the body received. */
export function checkBody(
  claims: Record<string, unknown>,
  digest: BodyDigest,
  mode: 'required' | 'optional',
) {
  const claim = claims.payloadhash
  if (claim === undefined) {
    if (mode === 'required')
      throw new ClaimInvalidError('payloadhash', '"payloadhash" claim is missing')
    return
  }
  if (typeof claim !== 'string' || (claim !== '' && !HEX64.test(claim))) {
    throw new ClaimInvalidError(
      'payloadhash',
      '"payloadhash" claim must be lowercase hex SHA-256 or ""',
    )
  }
  if (digest.size === 0) {
    // The original plugin sends "" for an empty body; other signers may hash the empty input.
    if (claim === '' || claim === EMPTY_SHA256) return
    throw new BodyHashMismatchError('"payloadhash" claim is for a body, but the request has none')
  }
  if (claim === '')
    throw new BodyHashMismatchError(
      '"payloadhash" claim is "" (no body), but the request has a body',
    )
  if (claim !== digest.sha256)
    throw new BodyHashMismatchError('"payloadhash" claim does not match the request body')
}
