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
export {
  contentDigest,
  type ParsedContentDigest,
  parseContentDigest,
} from './core/content-digest.js'
export {
  ComponentError,
  componentValue,
  type HttpMessage,
  signatureBase,
} from './core/signature-base.js'
export {
  BodyError,
  ConfigError,
  type ErrorCode,
  KeyError,
  SigningError,
  TokenFormatError,
  UpstreamJwtError,
} from './errors.js'
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
export {
  ALGORITHMS,
  type Algorithm,
  assertKeyFitsAlgorithm,
  HTTP_SIGNATURE_ALGORITHMS,
  type HttpSignatureAlgorithm,
  httpSignatureProblem,
  jwsAlgorithmFor,
} from './signer/algorithms.js'
export { queryHash, requestUri } from './signer/binding.js'
export {
  type BodyDigest,
  BodyHasher,
  digestBytes,
  digestStream,
  payloadHash,
} from './signer/body-digest.js'
export { type SpooledBody, type SpoolOptions, spoolBody } from './signer/body-spool.js'
export { buildClaims, type ClaimsContext, type UpstreamClaims } from './signer/claims.js'
export type { ConsumerRef, EntityRef, RequestFacts } from './signer/facts.js'
export {
  type HttpSignatureHeaders,
  SIGNATURE_HEADERS,
  type SignatureParameters,
  targetUri,
} from './signer/http-signature.js'
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
export {
  jwkThumbprint,
  type KeyMaterial,
  loadKeyMaterial,
  parseCertificates,
  parsePrivateKey,
} from './signer/keys.js'
export {
  createSigner,
  type IssuedToken,
  type JsonWebKeySet,
  type SignedRequest,
  type Signer,
  type SignerContext,
} from './signer/signer.js'
