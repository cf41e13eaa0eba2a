import { DEFAULT_CLOCK_TOLERANCE_SECONDS } from '../core/defaults.js'
import { ClaimInvalidError, TokenExpiredError, TokenNotYetValidError } from './errors.js'

/** The audiences a verifier accepts: one, any of a list, or those a predicate accepts. */
export type Audience = string | readonly string[] | ((aud: readonly string[]) => boolean)

/** What the claims must satisfy. Times are in seconds. */
export interface ClaimsPolicy {
  readonly issuer?: string | readonly string[] | undefined
  /**
   * A string, a list (any matches), or a predicate over the token's audiences; `null` (or
   * absent, here) checks nothing.
   */
  readonly audience?: Audience | null | undefined
  /** Leeway for exp, nbf and iat; default 30 s. */
  readonly clockTolerance?: number | undefined
  /**
   * Refuse tokens issued more than this many seconds ago (needs `iat`); in the modes with an
   * HTTP Message Signature, also signatures `created` longer ago than this, whatever their
   * `expires` says.
   */
  readonly maxTokenAge?: number | undefined
  /** Claims that must be present (besides exp and jti, which always must). */
  readonly requiredClaims?: readonly string[] | undefined
}

function numericDate(claims: Record<string, unknown>, name: string): number | undefined {
  const value = claims[name]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ClaimInvalidError(name, `"${name}" claim must be a number (NumericDate)`)
  }
  return value
}

/**
 * Checks the registered claims in RFC 7519 order: required members, `iss`, `aud`, then the
 * times `exp`, `nbf`, `iat` with the tolerance, and `maxTokenAge`. Pure: `now` (seconds) is
 * passed in.
 *
 * @example
 * ```ts
 * validateClaims(claims, { issuer: 'kong', audience: 'orders' }, Math.floor(Date.now() / 1000))
 * ```
 * @throws {ClaimInvalidError | TokenExpiredError | TokenNotYetValidError}
 */
export function validateClaims(
  claims: Record<string, unknown>,
  policy: ClaimsPolicy,
  now: number,
): void {
  const tolerance = policy.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE_SECONDS
  for (const name of ['exp', 'jti', ...(policy.requiredClaims ?? [])]) {
    if (claims[name] === undefined) throw new ClaimInvalidError(name, `"${name}" claim is missing`)
  }
  if (typeof claims.jti !== 'string' || claims.jti.length === 0 || claims.jti.length > 256) {
    throw new ClaimInvalidError(
      'jti',
      '"jti" claim must be a non-empty string of at most 256 characters',
    )
  }
  if (policy.issuer !== undefined) {
    const allowed = typeof policy.issuer === 'string' ? [policy.issuer] : policy.issuer
    if (typeof claims.iss !== 'string' || !allowed.includes(claims.iss)) {
      throw new ClaimInvalidError('iss', `"iss" claim is not the expected issuer`)
    }
  }
  if (policy.audience !== undefined && policy.audience !== null) {
    const aud = claims.aud
    const audiences =
      typeof aud === 'string'
        ? [aud]
        : Array.isArray(aud) && aud.every((a) => typeof a === 'string')
          ? (aud as string[])
          : undefined
    if (!audiences)
      throw new ClaimInvalidError(
        'aud',
        '"aud" claim is missing or not a string or list of strings',
      )
    const ok =
      typeof policy.audience === 'function'
        ? policy.audience(audiences)
        : (typeof policy.audience === 'string' ? [policy.audience] : policy.audience).some((a) =>
            audiences.includes(a),
          )
    if (!ok) {
      // The token's audience is no secret, and naming it tells which service it was minted for.
      const expected =
        typeof policy.audience === 'function'
          ? 'accepted by the audience predicate'
          : typeof policy.audience === 'string'
            ? `the expected ${JSON.stringify(policy.audience)}`
            : `one of the expected ${JSON.stringify(policy.audience)}`
      const got = JSON.stringify(audiences.length === 1 ? audiences[0] : audiences)
      throw new ClaimInvalidError('aud', `"aud" claim ${got.slice(0, 100)} is not ${expected}`)
    }
  }
  const exp = numericDate(claims, 'exp')!
  if (exp <= now - tolerance) throw new TokenExpiredError('token expired ("exp" claim)', 'exp')
  const nbf = numericDate(claims, 'nbf')
  if (nbf !== undefined && nbf > now + tolerance)
    throw new TokenNotYetValidError('token is not valid yet ("nbf" claim)')
  const iat = numericDate(claims, 'iat')
  if (iat !== undefined && iat > now + tolerance) {
    throw new ClaimInvalidError('iat', '"iat" claim is in the future')
  }
  if (policy.maxTokenAge !== undefined) {
    if (iat === undefined)
      throw new ClaimInvalidError('iat', '"iat" claim is missing (maxTokenAge is set)')
    if (now - iat > policy.maxTokenAge + tolerance) {
      throw new TokenExpiredError(
        `token is older than ${policy.maxTokenAge} s ("iat" claim)`,
        'iat',
      )
    }
  }
}
