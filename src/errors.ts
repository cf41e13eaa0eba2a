/**
 * Error classes shared by every surface. Each error has a stable `code` to branch on and the
 * HTTP `status` an edge (gateway, Kong plugin, middleware) answers with. Messages name the
 * option, file or claim at fault and never contain a token, a key or a passphrase.
 *
 * @example
 * ```ts
 * import { createSigner, UpstreamJwtError } from 'kong-upstream-jwt'
 * try {
 *   await createSigner({ private_key_location: './missing.pem' })
 * } catch (err) {
 *   if (err instanceof UpstreamJwtError) console.error(err.code, err.message)
 * }
 * ```
 * @module
 */

/** Every code an error of this package can carry. */
export type ErrorCode =
  | 'ERR_OPTION_UNKNOWN'
  | 'ERR_OPTION_INVALID'
  | 'ERR_KEY_NOT_FOUND'
  | 'ERR_KEY_UNREADABLE'
  | 'ERR_KEY_INVALID'
  | 'ERR_KEY_PASSPHRASE'
  | 'ERR_KEY_MISMATCH'
  | 'ERR_KEY_UNSUITABLE'
  | 'ERR_CERT_INVALID'
  | 'ERR_CERT_EXPIRED'
  | 'ERR_CERT_NOT_YET_VALID'
  | 'ERR_SIGNER_CLOSED'
  | 'ERR_SIGNING_FAILED'
  | 'ERR_BODY_TOO_LARGE'
  | 'ERR_BODY_READ'
  | 'ERR_TOKEN_MALFORMED'
  | 'ERR_TOKEN_MISSING'
  | 'ERR_ALG_NOT_ALLOWED'
  | 'ERR_SIGNATURE_INVALID'
  | 'ERR_CERT_UNTRUSTED'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_TOKEN_NOT_YET_VALID'
  | 'ERR_CLAIM_INVALID'
  | 'ERR_BODY_HASH_MISMATCH'
  | 'ERR_BINDING_MISMATCH'
  | 'ERR_COMPONENT_NOT_COVERED'
  | 'ERR_TOKEN_REPLAYED'
  | 'ERR_REPLAY_STORE_UNAVAILABLE'
  | 'ERR_JWKS_UNAVAILABLE'
  | 'ERR_RAW_BODY_UNAVAILABLE'
  | 'ERR_UPSTREAM_UNREACHABLE'
  | 'ERR_UPSTREAM_TIMEOUT'
  | 'ERR_FILE_EXISTS'
  | 'ERR_USAGE'

// Brands survive two copies of the package in one process (undici does the same): `instanceof`
// compares class names recorded on the instance instead of prototype identity.
const kKinds = Symbol.for('kong-upstream-jwt.error.kinds')

/** Base class of every error this package throws on purpose. */
export class UpstreamJwtError extends Error {
  /** Stable machine-readable code, e.g. `ERR_KEY_MISMATCH`. */
  readonly code: ErrorCode
  /** HTTP status an edge answers with when this error ends a request. */
  readonly status: number
  declare readonly [kKinds]: ReadonlySet<string>

  constructor(code: ErrorCode, message: string, status = 500, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.status = status
    const kinds = new Set<string>()
    for (
      let p: unknown = new.target;
      typeof p === 'function' && p !== Error;
      p = Object.getPrototypeOf(p)
    ) {
      kinds.add(p.name)
    }
    Object.defineProperty(this, kKinds, { value: kinds })
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    const kinds = (value as { [kKinds]?: ReadonlySet<string> } | null | undefined)?.[kKinds]
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass being tested against
    return kinds instanceof Set && kinds.has(this.name)
  }

  /** A JSON-safe view for responses and log lines: code, status and message only. */
  toJSON(): { code: ErrorCode; status: number; message: string } {
    return { code: this.code, status: this.status, message: this.message }
  }
}

/** A configuration option is unknown or has a value outside its type or range. */
export class ConfigError extends UpstreamJwtError {
  /** The option at fault, as named in the configuration (snake_case). */
  readonly option: string
  constructor(
    code: 'ERR_OPTION_UNKNOWN' | 'ERR_OPTION_INVALID',
    option: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, 500, options)
    this.option = option
  }
}

/** A key or certificate file is missing, unreadable, malformed or unfit for the algorithm. */
export class KeyError extends UpstreamJwtError {
  /** The file at fault, when the material came from a file. */
  readonly file: string | undefined
  constructor(
    code: Extract<ErrorCode, `ERR_KEY_${string}` | `ERR_CERT_${string}`>,
    message: string,
    file?: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, 500, options)
    this.file = file
  }
}

/** Signing a token failed; the request must not be forwarded. */
export class SigningError extends UpstreamJwtError {
  constructor(
    message: string,
    options?: { cause?: unknown; code?: 'ERR_SIGNING_FAILED' | 'ERR_SIGNER_CLOSED' },
  ) {
    super(options?.code ?? 'ERR_SIGNING_FAILED', message, 500, options)
  }
}

/** A request body could not be taken in whole: too large (413) or the read failed (400). */
export class BodyError extends UpstreamJwtError {
  /** The configured limit in bytes, for `ERR_BODY_TOO_LARGE`. */
  readonly limit: number | undefined
  constructor(
    code: 'ERR_BODY_TOO_LARGE' | 'ERR_BODY_READ',
    message: string,
    options?: { cause?: unknown; limit?: number },
  ) {
    super(code, message, code === 'ERR_BODY_TOO_LARGE' ? 413 : 400, options)
    this.limit = options?.limit
  }
}

/**
 * A token was refused by the verifier. Subclasses (in `kong-upstream-jwt/verify`) say why;
 * `status` is 401 except where the fault is on the verifier's side (503).
 */
export class VerificationError extends UpstreamJwtError {
  /** The claim or header member at fault, where one is. */
  readonly claim: string | undefined
  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; status?: number; claim?: string },
  ) {
    super(code, message, options?.status ?? 401, options)
    this.claim = options?.claim
  }
}

/** A token could not be decoded: not three base64url parts of JSON objects, or too long. */
export class TokenFormatError extends VerificationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TOKEN_MALFORMED', message, options)
  }
}
