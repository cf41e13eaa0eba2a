/**
 * kong-upstream-jwt: sign proxied requests with a JWT that proves to the upstream that the
 * request came through the gateway and was not changed on the way. This entry is the signing
 * library as the README documents it: `createSigner`, the request facts it signs, body
 * digests and spooling, the options table, and the errors. The verifier is
 * `kong-upstream-jwt/verify`, the gateway `kong-upstream-jwt/gateway`.
 *
 * @example
 * ```ts
 * import { createSigner, digestBytes } from 'kong-upstream-jwt'
 * const signer = await createSigner({ private_key_location: 'key.pem', public_key_location: 'cert.cer' })
 * const value = await signer.sign({ method: 'POST', body: digestBytes('{"a":1}') })
 * ```
 * @module
 */

export { ALGORITHMS, type Algorithm } from './core/algorithms.js'
export {
  type BodyDigest,
  type DigestOptions,
  digestBytes,
  digestStream,
} from './core/body-digest.js'
export {
  AlgorithmNotAllowedError,
  BindingMismatchError,
  BodyError,
  BodyHashMismatchError,
  CertificateError,
  ClaimInvalidError,
  ComponentNotCoveredError,
  ConfigError,
  ERRORS,
  type ErrorCode,
  type ErrorSpec,
  GatewayConfigError,
  KeyError,
  SignatureInvalidError,
  SigningError,
  TokenExpiredError,
  TokenFormatError,
  TokenMissingError,
  TokenNotYetValidError,
  TokenReplayedError,
  UpstreamError,
  UpstreamJwtError,
  UsageError,
  VerificationError,
  VerifierUnavailableError,
} from './core/errors.js'
export { type SpooledBody, type SpoolOptions, spoolBody } from './gateway/body-spool.js'
export { type ResolveContext, resolveOptions } from './options/resolve.js'
export {
  type JsonValue,
  OPTIONS,
  type OptionName,
  type ResolvedOptions,
  type SignerOptions,
} from './options/table.js'
export type { UpstreamClaims } from './signer/claims.js'
export type { ConsumerRef, EntityRef, RequestFacts } from './signer/facts.js'
export type { HttpSignatureHeaders } from './signer/http-signature.js'
export type { SignOn } from './signer/jws.js'
export type { PublicJwk, SignerLogger } from './signer/key-store.js'
export {
  createSigner,
  type IssuedToken,
  type JsonWebKeySet,
  type SignedRequest,
  type Signer,
  type SignerContext,
} from './signer/signer.js'
