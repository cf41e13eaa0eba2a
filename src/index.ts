/**
 * kong-upstream-jwt: sign proxied requests with a JWT that proves to the upstream that the
 * request came through the gateway and was not changed on the way.
 *
 * @example
 * ```ts
 * import { createSigner, digestBytes } from 'kong-upstream-jwt'
 * const signer = await createSigner({ private_key_location: 'key.pem', public_key_location: 'cert.cer' })
 * const value = await signer.sign({ method: 'POST', body: digestBytes('{"a":1}') })
 * ```
 * @module
 */

export { ALGORITHMS, type Algorithm, assertKeyFitsAlgorithm } from './core/algorithms.js'
export { queryHash, requestUri } from './core/binding.js'
export {
  type BodyDigest,
  BodyHasher,
  digestBytes,
  digestStream,
  payloadHash,
} from './core/body-digest.js'
export {
  BodyError,
  ConfigError,
  ERRORS,
  type ErrorCode,
  type ErrorSpec,
  GatewayConfigError,
  KeyError,
  SigningError,
  TokenFormatError,
  UpstreamError,
  UpstreamJwtError,
  UsageError,
  VerificationError,
} from './core/errors.js'
export { jwkThumbprint, parseCertificates, parsePrivateKey } from './core/keys.js'
export { type SpooledBody, type SpoolOptions, spoolBody } from './gateway/body-spool.js'
export { describeValue, type ResolveContext, resolveOptions } from './options/resolve.js'
export {
  type JsonValue,
  OPTIONS,
  type OptionName,
  type OptionSpec,
  RESERVED_CLAIMS,
  type ResolvedOptions,
  type SignerOptions,
} from './options/table.js'
export { buildClaims, type ClaimsContext, type UpstreamClaims } from './signer/claims.js'
export type { ConsumerRef, EntityRef, RequestFacts } from './signer/facts.js'
export {
  buildHeader,
  createSigningKey,
  encodeJson,
  type JwsHeader,
  type SigningKey,
  signCompact,
  signCompactSync,
} from './signer/jws.js'
export type { PublicJwk, SignerLogger } from './signer/key-store.js'
export { type KeyMaterial, loadKeyMaterial } from './signer/keys.js'
export {
  createSigner,
  type IssuedToken,
  type JsonWebKeySet,
  type Signer,
  type SignerContext,
} from './signer/signer.js'
