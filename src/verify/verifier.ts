import { verify as cryptoVerify, type X509Certificate } from 'node:crypto'
import {
  ALGORITHMS,
  type Algorithm,
  algorithmSpec,
  isAlgorithm,
  keyUnfitFor,
  signKeyInput,
} from '../core/algorithms.js'
import type { BodyDigest } from '../core/body-digest.js'
import { namesSha512Alone } from '../core/content-digest.js'
import { DEFAULT_CLOCK_TOLERANCE_SECONDS, DEFAULT_HEADER } from '../core/defaults.js'
import { ConfigError, UpstreamJwtError } from '../core/errors.js'
import { jwkThumbprint } from '../core/keys.js'
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
import { checkHttpSignature, type VerifiedHttpSignature } from './http-signature.js'
import { MemoryReplayStore } from './replay/memory.js'
import type { ReplayStore } from './replay/store.js'
import type { VerifyRequest } from './request.js'
import { checkBinding, checkBody, digestOf } from './request-checks.js'
import { type TrustedKey, type TrustOptions, TrustStore } from './trust.js'

export type { VerifyRequest } from './request.js'

/** A verified token. */
export interface VerifiedToken {
  readonly header: Readonly<Record<string, unknown>>
  readonly claims: Readonly<Record<string, unknown>>
  /** The `x5c` chain from the token (leaf first), empty when the key came from a pin or JWKS. */
  readonly certificates: readonly X509Certificate[]
  /** The token as received (without `Bearer `). Keep it out of logs. Empty in `http-signature` mode. */
  readonly token: string
  /** The HTTP Message Signature, in `signatureMode` `http-signature` and `both`. */
  readonly httpSignature?: VerifiedHttpSignature | undefined
}

/** The options of `createVerifier` that do not depend on `signatureMode`. */
export interface VerifierCommonOptions extends TrustOptions, Omit<ClaimsPolicy, 'audience'> {
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
  /** Label of the signature to check (the signer's `signature_label`); default `sig1`. */
  readonly signatureLabel?: string
  /** Required `tag` (the signer's `signature_tag`); default `kong-upstream-jwt`, `false` for any. */
  readonly signatureTag?: string | false
}

/**
 * Options of `createVerifier`. `audience` must be chosen whenever a JWT is checked (modes
 * `jwt` and `both`); an HTTP Message Signature alone carries no audience (its signed
 * `@target-uri` names the upstream), so there it may be left out.
 */
export type VerifierOptions = VerifierCommonOptions &
  (
    | {
        /**
         * What proves the request, as the signer's `signature_mode`: the JWT (default), an HTTP
         * Message Signature (RFC 9421) with `Content-Digest` (RFC 9530), or both, the signature then
         * covering the JWT header and checked with the JWT's key.
         */
        readonly signatureMode?: 'jwt' | 'both'
        /**
         * Required: the audience this service accepts in the `aud` claim — the gateway's `audience`
         * option, else the Kong service name. A list accepts any of them, a predicate what it
         * returns true for. `null` accepts every audience: then a token minted for one service is
         * accepted by every other (and by anyone who saw it, for its lifetime), so choose it only
         * when nothing else shares the gateway's key.
         */
        readonly audience: Audience | null
      }
    | {
        /** An HTTP Message Signature (RFC 9421) with `Content-Digest` (RFC 9530), no JWT. */
        readonly signatureMode: 'http-signature'
        /** Not used: a signature has no `aud` claim. Accepted so options can be shared. */
        readonly audience?: Audience | null
      }
  )

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
  const audience = (options as { audience?: unknown }).audience
  if (options.signatureMode !== 'http-signature' || audience !== undefined) {
    checkAudienceOption(audience)
  }
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
  const maxAgeMs = options.maxTokenAge === undefined ? undefined : options.maxTokenAge * 1000
  const replay: ReplayStore | undefined =
    options.replay === false ? undefined : (options.replay ?? new MemoryReplayStore({ clock }))
  const payloadMode = options.payloadHash ?? 'required'

  const mode = options.signatureMode ?? 'jwt'
  if (!['jwt', 'http-signature', 'both'].includes(mode)) {
    throw new ConfigError(
      'ERR_OPTION_INVALID',
      'signatureMode',
      `createVerifier: signatureMode must be jwt, http-signature or both (got ${JSON.stringify(mode)})`,
    )
  }
  if (mode === 'http-signature' && !(options.pinned?.length || options.jwks !== undefined)) {
    // A signature carries no certificate chain: its key is found by keyid only.
    throw new ConfigError(
      'ERR_OPTION_INVALID',
      'signatureMode',
      'createVerifier: signatureMode http-signature finds the key by keyid; give pinned or jwks (a CA alone cannot identify it)',
    )
  }
  const signatureLabel = options.signatureLabel ?? 'sig1'
  const signatureTag =
    options.signatureTag === false ? undefined : (options.signatureTag ?? 'kong-upstream-jwt')
  const httpAlgorithms = new Set<string>(
    [...algorithms].flatMap((a) => {
      const name = algorithmSpec(a as Algorithm).rfc9421
      return name ? [name] : []
    }),
  )

  async function claimOnce(id: string, expiresMs: number, claim: 'jti' | 'nonce') {
    if (!replay) return
    let fresh: boolean
    try {
      fresh = await replay.claim(id, expiresMs + toleranceMs)
    } catch (err) {
      if (options.replayStoreFailure === 'allow') return
      throw new VerifierUnavailableError(
        'ERR_REPLAY_STORE_UNAVAILABLE',
        `replay store failed: ${(err as Error).message}`,
        { cause: err },
      )
    }
    if (!fresh) throw new TokenReplayedError(claim)
  }

  async function verifyJwt(request: VerifyRequest, digest: BodyDigest) {
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
    checkBody(claims, digest, payloadMode)
    checkBinding(claims, request, options.requireBinding === true)
    return { header, claims, alg, key: verified, token: decoded.parts.join('.') }
  }

  async function verify(request: VerifyRequest): Promise<VerifiedToken> {
    // Hashed once: the body may be a stream that can be read only once. With SHA-512 as well
    // when a signed Content-Digest names it alone (known from the headers, before the body).
    const field = mode === 'jwt' ? undefined : request.headers['content-digest']
    const digest = await digestOf(request.body, {
      sha512: namesSha512Alone(typeof field === 'string' ? field : field?.join(', ')),
    })
    const common = {
      label: signatureLabel,
      tag: signatureTag,
      toleranceMs,
      maxAgeMs,
      algorithms: httpAlgorithms,
      digest,
      alsoRequired: request.headers['content-type'] !== undefined ? ['content-type'] : [],
    }
    if (mode === 'http-signature') {
      const nowMs = clock()
      let found: readonly TrustedKey[] = []
      const signature = await checkHttpSignature(request, {
        ...common,
        nowMs,
        keys: async (kid) => {
          found = await trust.resolve({ kid }, nowMs, toleranceMs)
          return found
        },
      })
      await claimOnce(signature.nonce, signature.expires * 1000, 'nonce')
      const key = found.length === 1 ? found[0] : undefined
      return {
        header: {},
        claims: {},
        certificates: key?.certificates ?? [],
        token: '',
        httpSignature: signature,
      }
    }
    const jwt = await verifyJwt(request, digest)
    let signature: VerifiedHttpSignature | undefined
    if (mode === 'both') {
      const hint = algorithmSpec(jwt.alg).rfc9421
      if (!hint) {
        throw new AlgorithmNotAllowedError(
          `algorithm ${jwt.alg} has no HTTP Message Signature counterpart (RFC 9421)`,
        )
      }
      signature = await checkHttpSignature(request, {
        ...common,
        alsoRequired: [...common.alsoRequired, headerName],
        nowMs: clock(),
        algorithmHint: hint,
        // In `both` the JWT's key (chain-validated, pinned or from the JWKS) signs the message.
        keys: async () => [{ ...jwt.key, alg: undefined }],
      })
      const kid = typeof jwt.header.kid === 'string' ? jwt.header.kid : jwkThumbprint(jwt.key.key)
      if (signature.keyid !== kid) {
        throw new ClaimInvalidError('keyid', 'signature "keyid" does not name the JWT\'s key')
      }
      if (signature.nonce !== jwt.claims.jti) {
        throw new ClaimInvalidError('nonce', 'signature "nonce" is not the JWT\'s "jti"')
      }
    }
    await claimOnce(jwt.claims.jti as string, (jwt.claims.exp as number) * 1000, 'jti')
    return {
      header: jwt.header,
      claims: jwt.claims,
      certificates: jwt.key.certificates,
      token: jwt.token,
      ...(signature ? { httpSignature: signature } : {}),
    }
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
