/**
 * Why the verifier refused a token. The classes live with every other error in the core
 * errors table (code → class, status); this module names the verifier's share of them.
 * @module
 */
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
} from '../core/errors.js'
