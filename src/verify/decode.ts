import { X509Certificate } from 'node:crypto'
import { TokenFormatError } from '../core/errors.js'
import { duplicateMember } from './json-duplicates.js'

/** Largest token accepted before any parsing (a documented limit, against resource abuse). */
export const MAX_TOKEN_LENGTH = 64 * 1024

const B64URL = /^[A-Za-z0-9_-]*$/
const B64 = /^[A-Za-z0-9+/]*={0,2}$/

/** A compact JWS split and decoded, nothing checked but its form. */
export interface DecodedToken {
  readonly header: Record<string, unknown>
  readonly claims: Record<string, unknown>
  /** The raw parts, as they were signed. */
  readonly parts: readonly [header: string, payload: string, signature: string]
  readonly signature: Buffer
}

/** Removes an optional `Bearer ` scheme (RFC 6750 §2.1; case-insensitive) and whitespace. */
export function stripBearer(value: string): string {
  const trimmed = value.trim()
  return /^bearer\s+/i.test(trimmed) ? trimmed.replace(/^bearer\s+/i, '') : trimmed
}

/**
 * Refuses a base64url part whose unused low bits are set: such a string decodes to the same
 * bytes as another, so one signed token would have several spellings.
 */
function canonical(bytes: Buffer, part: string, what: string): void {
  if (bytes.toString('base64url') !== part) {
    throw new TokenFormatError(`token ${what} is not canonical base64url`)
  }
}

function decodeJsonPart(part: string, what: string, strict: boolean): Record<string, unknown> {
  if (!B64URL.test(part) || part.length % 4 === 1) {
    throw new TokenFormatError(`token ${what} is not base64url`)
  }
  const bytes = Buffer.from(part, 'base64url')
  if (strict) canonical(bytes, part, what)
  const text = bytes.toString('utf8')
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new TokenFormatError(`token ${what} is not JSON`, { cause: err })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TokenFormatError(`token ${what} is not a JSON object`)
  }
  if (strict) {
    const name = duplicateMember(text)
    if (name !== undefined) {
      throw new TokenFormatError(`token ${what} has the member "${name.slice(0, 40)}" twice`)
    }
  }
  return value as Record<string, unknown>
}

/**
 * Splits and decodes a compact JWS without verifying anything. For display (`inspect`) and as
 * the verifier's first step (with `strict`: duplicate member names refused); never trust what
 * it returns until the signature is checked.
 *
 * @example
 * ```ts
 * const { header, claims } = decodeToken(req.headers.jwt)
 * ```
 * @throws {TokenFormatError} `ERR_TOKEN_MALFORMED`; the message never contains the token
 */
export function decodeToken(value: string, options: { strict?: boolean } = {}): DecodedToken {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TokenFormatError('token is empty')
  }
  if (value.length > MAX_TOKEN_LENGTH) {
    throw new TokenFormatError(`token is longer than ${MAX_TOKEN_LENGTH} characters`)
  }
  const token = stripBearer(value)
  const parts = token.split('.')
  if (parts.length !== 3) {
    throw new TokenFormatError(`token has ${parts.length} parts; a compact JWS has 3`)
  }
  const [h, p, s] = parts as [string, string, string]
  const header = decodeJsonPart(h, 'header', options.strict === true)
  const claims = decodeJsonPart(p, 'payload', options.strict === true)
  if (!B64URL.test(s) || s.length % 4 === 1) {
    throw new TokenFormatError('token signature is not base64url')
  }
  const signature = Buffer.from(s, 'base64url')
  if (options.strict) canonical(signature, s, 'signature')
  return { header, claims, parts: [h, p, s], signature }
}

/**
 * Decodes the `x5c` entries of a header into certificates. Standard base64 as RFC 7515 §4.1.6
 * requires; with `legacy`, also the base64url form the original Lua plugin sent.
 *
 * @example
 * ```ts
 * const [leaf] = decodeX5c(header.x5c, { legacy: true })
 * ```
 * @throws {TokenFormatError}
 */
export function decodeX5c(x5c: unknown, options: { legacy?: boolean } = {}): X509Certificate[] {
  if (!Array.isArray(x5c) || x5c.length === 0) {
    throw new TokenFormatError('x5c header must be a non-empty array')
  }
  return x5c.map((entry, i) => {
    if (typeof entry !== 'string') throw new TokenFormatError(`x5c[${i}] is not a string`)
    let der: Buffer
    if (B64.test(entry)) der = Buffer.from(entry, 'base64')
    else if (options.legacy && B64URL.test(entry)) der = Buffer.from(entry, 'base64url')
    else {
      throw new TokenFormatError(
        `x5c[${i}] is not standard base64${options.legacy ? ' or base64url' : " (base64url is the original plugin's legacy form)"}`,
      )
    }
    try {
      return new X509Certificate(der)
    } catch (err) {
      throw new TokenFormatError(`x5c[${i}] is not a DER certificate`, { cause: err })
    }
  })
}
