import { verify as cryptoVerify, type X509Certificate } from 'node:crypto'
import {
  ALGORITHMS,
  type Algorithm,
  algorithmSpec,
  isAlgorithm,
  keyUnfitFor,
  signKeyInput,
} from '../core/algorithms.js'
import { DEFAULT_CLOCK_TOLERANCE_SECONDS, DEFAULT_HEADER } from '../core/defaults.js'
import { ConfigError, UpstreamJwtError } from '../core/errors.js'
import { type Audience, type ClaimsPolicy, validateClaims } from './claims.js'
import { decodeToken } from './decode.js'
import {
  AlgorithmNotAllowedError,
  ClaimInvalidError,
  SignatureInvalidError,
  TokenFormatError,
  TokenMissingError,
  TokenReplayedError,
  VerifierUnavailableError,
} from './errors.js'
import { MemoryReplayStore } from './replay/memory.js'
import type { ReplayStore } from './replay/store.js'
import type { VerifyRequest } from './request.js'
import { checkBinding, checkBody, digestOf } from './request-checks.js'
import { type TrustOptions, TrustStore } from './trust.js'

export type { VerifyRequest } from './request.js'

/** A verified token. */
export interface VerifiedToken {
  readonly header: Readonly<Record<string, unknown>>
  readonly claims: Readonly<Record<string, unknown>>
  /** The `x5c` chain from the token (leaf first), empty when the key came from a pin or JWKS. */
  readonly certificates: readonly X509Certificate[]
  /** The token as received (without `Bearer `). Keep it out of logs. */
  readonly token: string
}

/** Options of `createVerifier`. */
export interface VerifierOptions extends TrustOptions, ClaimsPolicy {
  /**
   * Required: the audience this service accepts in the `aud` claim — the gateway's `audience`
   * option, else the Kong service name. A list accepts any of them, a predicate what it
   * returns true for. `null` accepts every audience: then a token minted for one service is
   * accepted by every other (and by anyone who saw it, for its lifetime), so choose it only
   * when nothing else shares the gateway's key.
   */
  readonly audience: Audience | null
  /** Request header carrying the token; default `JWT` (case-insensitive). */
  readonly header?: string
  /** Accepted algorithms; default all the signer supports. `none` and HS* are never accepted. */
  readonly algorithms?: readonly Algorithm[]
  /** Required `typ` header value (compared case-insensitively), when set. */
  readonly typ?: string
  /** `required` (default): the claim must be there; `optional`: checked only when present. */
  readonly payloadHash?: 'required' | 'optional'
  /** Demand `htm`/`htu`/`htq`; they are checked whenever present in any case. */
  readonly requireBinding?: boolean
  /** Replay protection: a store, or `false` to turn it off. Default: in memory. */
  readonly replay?: ReplayStore | false
  /** When the replay store fails: refuse with 503 (default) or let the token through. */
  readonly replayStoreFailure?: 'refuse' | 'allow'
  /** Current time in ms; default `Date.now`. */
  readonly clock?: () => number
}

/** Checks tokens; create one per upstream and reuse it (caches chains and keys). */
export interface Verifier {
  /** The header name (lower case) the token is read from. */
  readonly headerName: string
  /**
   * Verifies the token in a request. Resolves the verified token, or rejects with a
   * `VerificationError` subclass (`code`, `status`).
   */
  verify(request: VerifyRequest): Promise<VerifiedToken>
  /** Releases the replay store's connection if the verifier opened it. */
  close(): Promise<void>
}

function tokenFrom(request: VerifyRequest, header: string): string {
  const value = request.headers[header]
  if (value === undefined || value === '')
    throw new TokenMissingError(`no token in the ${header} header`)
  if (typeof value !== 'string') {
    if (value.length !== 1)
      throw new TokenFormatError(`the ${header} header appears ${value.length} times`)
    return value[0] as string
  }
  return value
}

function verifySignature(
  alg: Algorithm,
  key: import('node:crypto').KeyObject,
  input: Buffer,
  signature: Buffer,
): Promise<boolean> {
  const spec = algorithmSpec(alg)
  const digest = spec.digest
  if (spec.keyTypes.includes('rsa')) {
    // RSA verification (public exponent 65537) costs less than a thread-pool round trip:
    // on the event loop it is 2.5x faster sequentially and as fast under load (bench/verify).
    // ECDSA and EdDSA verification is dearer and goes to the pool, which uses every core.
    try {
      return Promise.resolve(cryptoVerify(digest, input, signKeyInput(key, alg), signature))
    } catch {
      return Promise.resolve(false)
    }
  }
  return new Promise((resolve) => {
    cryptoVerify(digest, input, signKeyInput(key, alg), signature, (err, ok) => resolve(!err && ok))
  })
}

const AUDIENCE_HELP =
  'the audience this service accepts, as the gateway puts it in the "aud" claim (its `audience` option, else the Kong service name), e.g. audience: \'orders\'; a list accepts any of them; audience: null accepts tokens minted for any service'

// Safe by default (RFC 8725 §3.9): a verifier that forgot the audience would accept a token
// minted for any other service behind the same gateway.
function checkAudienceOption(audience: unknown): void {
  const fail = (problem: string): never => {
    throw new ConfigError(
      'ERR_OPTION_INVALID',
      'audience',
      `createVerifier: option "audience" ${problem}: give ${AUDIENCE_HELP}`,
    )
  }
  if (audience === undefined) fail('is required')
  if (audience === null || typeof audience === 'function') return
  if (typeof audience === 'string') {
    if (audience === '') fail('is an empty string')
    return
  }
  if (!Array.isArray(audience))
    fail(`must be a string, a list of strings or null, not ${typeof audience}`)
  const list = audience as unknown[]
  if (list.length === 0) fail('is an empty list')
  if (!list.every((a) => typeof a === 'string' && a !== ''))
    fail('must list non-empty strings only')
}

/**
 * Creates a verifier for upstream services: signature with a trusted key (x5c chain to a CA,
 * pinned keys, or JWKS), algorithm allowlist, claims, body hash, request binding and replay.
 * Strict by default: `audience` must be chosen (a value, or `null` for any); `payloadhash`,
 * `exp` and `jti` required; duplicate JSON members refused; tokens over 64 KiB refused before
 * parsing.
 *
 * @example
 * ```ts
 * import { createVerifier } from 'kong-upstream-jwt/verify'
 *
 * const verifier = createVerifier({ ca: './truststore/ca.pem', issuer: 'my-gateway', audience: 'orders' })
 * const { claims } = await verifier.verify({ headers: req.headers, method: req.method, body: rawBody })
 * ```
 */
export function createVerifier(options: VerifierOptions): Verifier {
  checkAudienceOption((options as { audience?: unknown }).audience)
  const clock = options.clock ?? Date.now
  const trust = new TrustStore(options, clock)
  const algorithms = new Set<string>(options.algorithms ?? ALGORITHMS)
  for (const alg of algorithms) {
    if (!isAlgorithm(alg))
      throw new ConfigError(
        'ERR_OPTION_INVALID',
        'algorithms',
        `createVerifier: algorithm ${JSON.stringify(alg)} is not supported (only ${ALGORITHMS.join(', ')})`,
      )
  }
  const headerName = (options.header ?? DEFAULT_HEADER).toLowerCase()
  const toleranceMs = (options.clockTolerance ?? DEFAULT_CLOCK_TOLERANCE_SECONDS) * 1000
  const replay: ReplayStore | undefined =
    options.replay === false ? undefined : (options.replay ?? new MemoryReplayStore({ clock }))
  const payloadMode = options.payloadHash ?? 'required'

  async function verify(request: VerifyRequest): Promise<VerifiedToken> {
    const raw = tokenFrom(request, headerName)
    const decoded = decodeToken(raw, { strict: true })
    const { header, claims } = decoded
    if (header.crit !== undefined)
      throw new TokenFormatError('token has a "crit" header this verifier does not understand')
    const alg = header.alg
    if (typeof alg !== 'string' || !isAlgorithm(alg) || !algorithms.has(alg)) {
      throw new AlgorithmNotAllowedError(
        `algorithm ${JSON.stringify(String(alg).slice(0, 20))} is not allowed`,
      )
    }
    if (
      options.typ !== undefined &&
      (typeof header.typ !== 'string' || header.typ.toLowerCase() !== options.typ.toLowerCase())
    ) {
      throw new ClaimInvalidError('typ', `"typ" header is not ${JSON.stringify(options.typ)}`)
    }
    const now = clock()
    const candidates = await trust.resolve(header, now, toleranceMs)
    const input = Buffer.from(`${decoded.parts[0]}.${decoded.parts[1]}`, 'latin1')
    let verified: (typeof candidates)[number] | undefined
    for (const candidate of candidates) {
      // RFC 7517 §4.4: a key that names its algorithm is used with that one only.
      if (candidate.alg !== undefined && candidate.alg !== alg) {
        if (candidates.length === 1) {
          throw new AlgorithmNotAllowedError(
            `the key for this token is for ${candidate.alg}, not ${alg}`,
          )
        }
        continue
      }
      const unfit = keyUnfitFor(candidate.key, alg)
      if (unfit !== undefined) {
        if (candidates.length === 1) throw new AlgorithmNotAllowedError(unfit)
        continue
      }
      if (await verifySignature(alg, candidate.key, input, decoded.signature)) {
        verified = candidate
        break
      }
    }
    if (!verified) throw new SignatureInvalidError('signature does not verify with the trusted key')
    validateClaims(claims, options, Math.floor(now / 1000))
    checkBody(claims, await digestOf(request.body), payloadMode)
    checkBinding(claims, request, options.requireBinding === true)
    if (replay) {
      let fresh: boolean
      try {
        fresh = await replay.claim(
          claims.jti as string,
          (claims.exp as number) * 1000 + toleranceMs,
        )
      } catch (err) {
        if (options.replayStoreFailure === 'allow') fresh = true
        else
          throw new VerifierUnavailableError(
            'ERR_REPLAY_STORE_UNAVAILABLE',
            `replay store failed: ${(err as Error).message}`,
            { cause: err },
          )
      }
      if (!fresh) throw new TokenReplayedError()
    }
    return { header, claims, certificates: verified.certificates, token: decoded.parts.join('.') }
  }

  return {
    headerName,
    async verify(request) {
      try {
        return await verify(request)
      } catch (err) {
        if (err instanceof UpstreamJwtError) throw err
        throw new TokenFormatError('token could not be verified', { cause: err })
      }
    },
    async close() {
      await replay?.close?.()
    },
  }
}
