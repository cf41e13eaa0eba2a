/**
 * The `Content-Digest` field of RFC 9530: a structured dictionary of digest algorithm → byte
 * sequence, computed over the message content as sent.
 * @module
 */
import { parseDictionary, serializeDictionary } from 'structured-headers'

/** SHA-256 of the empty input, hex: the digest of a request without a body. */
const EMPTY_SHA256_HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

/**
 * The `Content-Digest` value for a body whose SHA-256 is `sha256Hex` (RFC 9530 §2, algorithm
 * `sha-256`). An absent body has the digest of the empty input, so that a body cannot be added
 * on the way.
 *
 * @example
 * ```ts
 * contentDigest(digestBytes('{"hello": "world"}\n').sha256)
 * // 'sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:'
 * ```
 */
export function contentDigest(sha256Hex: string | undefined): string {
  return serializeDictionary({
    'sha-256': Buffer.from(sha256Hex ?? EMPTY_SHA256_HEX, 'hex'),
  })
}

/** What a `Content-Digest` value says about the body, as parsed (RFC 9530 §2). */
export interface ParsedContentDigest {
  /** Algorithm name → digest bytes, for every byte-sequence member. */
  readonly digests: ReadonlyMap<string, Buffer>
}

/**
 * Parses a `Content-Digest` value. Throws the structured-field parser's error for a value that
 * is not a dictionary; members that are not byte sequences are skipped, as RFC 9530 §2 asks
 * of unknown or malformed members.
 *
 * @example
 * ```ts
 * parseContentDigest('sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:').digests.get('sha-256')
 * ```
 */
export function parseContentDigest(value: string): ParsedContentDigest {
  const digests = new Map<string, Buffer>()
  for (const [name, member] of parseDictionary(value)) {
    const bare = member[0]
    if (bare instanceof ArrayBuffer) digests.set(name, Buffer.from(bare))
  }
  return { digests }
}

/**
 * The `Content-Digest` value names `sha-512` and not `sha-256`: the one case where a verifier
 * must hash the body with SHA-512 to check it (RFC 9530 §2 lets a sender choose). A value
 * that does not parse is `false` here; the check after the signature refuses it.
 *
 * @example
 * ```ts
 * namesSha512Alone('sha-512=:…:') // true
 * namesSha512Alone('sha-256=:…:, sha-512=:…:') // false
 * ```
 */
export function namesSha512Alone(value: string | undefined): boolean {
  if (value === undefined || !value.includes('sha-512')) return false
  try {
    const { digests } = parseContentDigest(value)
    return digests.has('sha-512') && !digests.has('sha-256')
  } catch {
    return false
  }
}
