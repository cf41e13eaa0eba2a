/**
 * The verifier for upstream services: `createVerifier(options).verify(request)`.
 *
 * @example
 * ```ts
 * import { createVerifier } from 'kong-upstream-jwt/verify'
 * const verifier = createVerifier({ ca: './truststore/ca.pem', issuer: 'my-gateway', audience: 'orders' })
 * const { claims } = await verifier.verify({ headers: req.headers, method: req.method, body: rawBody })
 * ```
 * @module
 */
export type { Algorithm } from '../core/algorithms.js'
export type { Audience, ClaimsPolicy } from './claims.js'
export { type DecodedToken, decodeToken } from './decode.js'
export {
  AlgorithmNotAllowedError,
  BindingMismatchError,
  BodyHashMismatchError,
  CertificateError,
  ClaimInvalidError,
  ComponentNotCoveredError,
  SignatureInvalidError,
  TokenExpiredError,
  TokenFormatError,
  TokenMissingError,
  TokenNotYetValidError,
  TokenReplayedError,
  VerificationError,
  VerifierUnavailableError,
} from './errors.js'
export type { VerifiedHttpSignature } from './http-signature.js'
export type { JwksOptions } from './jwks.js'
export { MemoryReplayStore } from './replay/memory.js'
export { type RedisLike, RedisReplayStore, type RedisReplayStoreOptions } from './replay/redis.js'
export type { ReplayStore } from './replay/store.js'
export type { TrustOptions } from './trust.js'
export {
  createVerifier,
  type VerifiedToken,
  type Verifier,
  type VerifierCommonOptions,
  type VerifierOptions,
  type VerifyRequest,
} from './verifier.js'
