/**
 * Why the verifier refused a token. Every class has a stable `code` and an HTTP `status`;
 * messages name the check and the claim, never the token or key material.
 * @module
 */
import { VerificationError } from '../errors.js'

export { TokenFormatError, VerificationError } from '../errors.js'

type Options = { cause?: unknown; claim?: string }

/** No token in the request (`ERR_TOKEN_MISSING`). */
export class TokenMissingError extends VerificationError {
  constructor(message: string) {
    super('ERR_TOKEN_MISSING', message)
  }
}

/** The token's `alg` is not on the allowlist or does not fit the key (`ERR_ALG_NOT_ALLOWED`). */
export class AlgorithmNotAllowedError extends VerificationError {
  constructor(message: string, options?: Options) {
    super('ERR_ALG_NOT_ALLOWED', message, { ...options, claim: 'alg' })
  }
}

/** The signature does not verify with the trusted key (`ERR_SIGNATURE_INVALID`). */
export class SignatureInvalidError extends VerificationError {
  constructor(message: string, options?: Options) {
    super('ERR_SIGNATURE_INVALID', message, options)
  }
}

/** No trusted key for the token: chain, pin or JWKS (`ERR_CERT_UNTRUSTED`, `ERR_CERT_EXPIRED`). */
export class CertificateError extends VerificationError {
  constructor(code: 'ERR_CERT_UNTRUSTED' | 'ERR_CERT_EXPIRED', message: string, options?: Options) {
    super(code, message, options)
  }
}

/**
 * `exp` (or `maxTokenAge`) has passed, or an HTTP Message Signature's `expires`
 * (`ERR_TOKEN_EXPIRED`).
 */
export class TokenExpiredError extends VerificationError {
  constructor(message: string, claim: 'exp' | 'iat' | 'expires') {
    super('ERR_TOKEN_EXPIRED', message, { claim })
  }
}

/** `nbf`, or a signature's `created`, is in the future (`ERR_TOKEN_NOT_YET_VALID`). */
export class TokenNotYetValidError extends VerificationError {
  constructor(message: string, claim: 'nbf' | 'created' = 'nbf') {
    super('ERR_TOKEN_NOT_YET_VALID', message, { claim })
  }
}

/** A claim is missing, of the wrong type or value (`ERR_CLAIM_INVALID`). */
export class ClaimInvalidError extends VerificationError {
  constructor(claim: string, message: string) {
    super('ERR_CLAIM_INVALID', message, { claim })
  }
}

/**
 * `payloadhash`, or the `Content-Digest` header (RFC 9530), does not match the body received
 * (`ERR_BODY_HASH_MISMATCH`).
 */
export class BodyHashMismatchError extends VerificationError {
  constructor(message: string, claim: 'payloadhash' | 'content-digest' = 'payloadhash') {
    super('ERR_BODY_HASH_MISMATCH', message, { claim })
  }
}

/**
 * An HTTP Message Signature does not cover a component the verifier requires, e.g.
 * `content-digest` (`ERR_COMPONENT_NOT_COVERED`); `claim` names the component.
 */
export class ComponentNotCoveredError extends VerificationError {
  constructor(component: string, message: string) {
    super('ERR_COMPONENT_NOT_COVERED', message, { claim: component })
  }
}

/** `htm`, `htu` or `htq` does not match the request (`ERR_BINDING_MISMATCH`). */
export class BindingMismatchError extends VerificationError {
  constructor(claim: string, message: string) {
    super('ERR_BINDING_MISMATCH', message, { claim })
  }
}

/** The token's `jti`, or a signature's `nonce`, was seen before (`ERR_TOKEN_REPLAYED`). */
export class TokenReplayedError extends VerificationError {
  constructor(claim: 'jti' | 'nonce' = 'jti') {
    super(
      'ERR_TOKEN_REPLAYED',
      claim === 'jti'
        ? 'token was already used (jti seen before)'
        : 'signature was already used (nonce seen before)',
      { claim },
    )
  }
}

/** The verifier's own dependency failed: replay store or JWKS (503). */
export class VerifierUnavailableError extends VerificationError {
  constructor(
    code: 'ERR_REPLAY_STORE_UNAVAILABLE' | 'ERR_JWKS_UNAVAILABLE',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, { ...options, status: 503 })
  }
}
